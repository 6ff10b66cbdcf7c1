"""The embedded default for `make run`: SQLite, console email, a broker that needs no
server (kombu's filesystem transport) unless REDIS_URL is set."""

import os

from .base import *  # noqa: F403
from .base import BASE_DIR, REDIS_URL, env

DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = env("SECRET_KEY", default="local-development-only-not-secret")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])

# Development-only keys so that `make run` works out of the box; production refuses them.
ENCRYPTION_KEYS = env(
    "ENCRYPTION_KEYS", default="dev1:ZGV2ZWxvcG1lbnQta2V5LW5vdC1wcm9kdWN0aW9uISE="
)
API_KEY_PEPPERS = env("API_KEY_PEPPERS", default="p1:bG9jYWwtZGV2ZWxvcG1lbnQtcGVwcGVyLW9ubHktISE=")
GATEWAY_TOKENS = env.list("GATEWAY_TOKENS", default=["local-gateway-token"])

if not REDIS_URL:
    broker_dir = BASE_DIR / "var" / "broker"
    for sub in ("out", "processed"):
        os.makedirs(broker_dir / sub, exist_ok=True)
    CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="filesystem://")
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(broker_dir / "out"),
        "data_folder_out": str(broker_dir / "out"),
        "processed_folder": str(broker_dir / "processed"),
        "store_processed": False,
    }
    # SQLite has one writer; a longer timeout keeps web, worker and beat from tripping.
    from .base import DATABASES

    if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
        DATABASES["default"]["CONN_MAX_AGE"] = 0
