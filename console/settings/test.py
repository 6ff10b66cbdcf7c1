"""The test suite: real PostgreSQL and Redis (DATABASE_URL / REDIS_URL, defaulting to
the standard local ports)."""

from .base import *  # noqa: F403
from .base import env

SECRET_KEY = "test-only-secret-key-with-enough-length-for-checks-0123456789"
DEBUG = False
ALLOWED_HOSTS = ["*"]
DATABASES = {
    "default": env.db("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/console")
}
REDIS_URL = env("REDIS_URL", default="redis://127.0.0.1:6379/0")
CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient"},
        "KEY_PREFIX": env("CACHE_KEY_PREFIX", default="console-test"),
    }
}
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL)
# Tests that depend on a worker start a real one; the rest run tasks in-process.
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
ENCRYPTION_KEYS = "t1:dGVzdC1lbmNyeXB0aW9uLWtleS0zMi1ieXRlcy0hISE="
AUDIT_CHAIN_KEYS = "ta1:QEtgHuYM5dj8AGOuA5XZwhc1D7JHzsIsRdUAr8acG4k="
API_KEY_PEPPERS = "tp1:dGVzdC1wZXBwZXItMzItYnl0ZXMtbG9uZy0tLS0tLSE="
GATEWAY_TOKENS = ["test-gateway-token"]
ACCOUNT_RATE_LIMITS = False
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# The tests' webhook receivers listen on loopback (tests/accounts/webhooks/).
WEBHOOK_ALLOWED_PRIVATE_NETWORKS = env.list(
    "WEBHOOK_ALLOWED_PRIVATE_NETWORKS", default=["127.0.0.0/8"]
)
