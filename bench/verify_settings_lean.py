"""Like-with-like settings for bench_verify_http: the benchmark settings with only the
middleware that runs before the gateway fast lane, plus allauth's AccountMiddleware
(allauth refuses to start without it), so the trivial endpoint, verify and
djangorestframework-api-key's HasAPIKey all pass through exactly the same stack (and
verify is routed by URL like the others). Never used by the product."""

from bench.verify_settings import *  # noqa: F403
from bench.verify_settings import MIDDLEWARE

MIDDLEWARE = [
    *MIDDLEWARE[: MIDDLEWARE.index("apikeys.keys.middleware.GatewayFastLaneMiddleware")],
    "allauth.account.middleware.AccountMiddleware",
]
