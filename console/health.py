"""`/healthz`: database, cache, broker and (when it is a deployment of its own) verify's
Redis, each with its own verdict.

The answer names only the exception class of a failed check: no URLs, hosts or
credentials. The details go to the server log.
"""

import logging
import os
import time

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)

# Long enough for a healthy broker across a network, short enough for a load balancer.
BROKER_TIMEOUT_SECONDS = 2


def _check(name: str, fn) -> dict:
    started = time.perf_counter()
    try:
        fn()
    except Exception as exc:
        logger.warning("Health check %s failed", name, exc_info=True)
        return {"ok": False, "error": exc.__class__.__name__}
    return {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 2)}


def _database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _cache():
    cache.set("healthz", "1", 10)
    if cache.get("healthz") != "1":
        raise RuntimeError("cache did not return the value written")


class BrokerFolderError(OSError):
    """The filesystem broker's folder is missing or not writable."""


def _broker():
    from console.celery import app

    url = settings.CELERY_BROKER_URL
    options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    if url.startswith("filesystem:"):
        # The transport "connects" to anything; what matters is the shared folder.
        for key in ("data_folder_in", "data_folder_out"):
            folder = options.get(key, "")
            if not (os.path.isdir(folder) and os.access(folder, os.W_OK | os.X_OK)):
                raise BrokerFolderError(key)
        return
    with app.connection_for_write(
        url, transport_options=options, connect_timeout=BROKER_TIMEOUT_SECONDS
    ) as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, timeout=BROKER_TIMEOUT_SECONDS)


def _verify_store():
    # Verify keeps generations and rate counters in VERIFY_REDIS_URL when set: a broken
    # verify store refuses every gateway call while the cache and broker look healthy.
    from apikeys.keys.verification import store

    store().client.ping()


@never_cache
@require_GET
def healthz(request):
    checks = {
        "database": _check("database", _database),
        "cache": _check("cache", _cache),
        "broker": _check("broker", _broker),
    }
    if settings.VERIFY_REDIS_URL:
        checks["verify_store"] = _check("verify_store", _verify_store)
    healthy = all(c["ok"] for c in checks.values())
    body = {"status": "ok" if healthy else "degraded", "checks": checks}
    if settings.DEBUG:
        body["broker_transport"] = settings.CELERY_BROKER_URL.split(":", 1)[0]
    return JsonResponse(body, status=200 if healthy else 503)
