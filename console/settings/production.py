"""Production: every secret from the environment, HTTPS only, strict headers."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import REDIS_URL, env

DEBUG = False
SECRET_KEY = env("SECRET_KEY")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")
ENCRYPTION_KEYS = env("ENCRYPTION_KEYS")
AUDIT_CHAIN_KEYS = env("AUDIT_CHAIN_KEYS")
API_KEY_PEPPERS = env("API_KEY_PEPPERS", default="")
GATEWAY_TOKENS = env.list("GATEWAY_TOKENS", default=[])
# No default: the base default prints every message, one-time links included, to the logs.
# `check --deploy` also refuses a backend that does not deliver (accounts/checks.py).
EMAIL_BACKEND = env("EMAIL_BACKEND")
if not REDIS_URL:
    raise ImproperlyConfigured("REDIS_URL must be set in production (cache, rate limits, broker).")

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
# Load balancers and container health checks probe over plain HTTP inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
MFA_TRUST_COOKIE_SECURE = True
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https"
