"""A small fixed-window rate limit on the shared cache (Redis), per client IP.

For public endpoints that allauth does not cover (public privacy requests, leaked-key
reports). The answer to a throttled request is a 429 with Retry-After.
"""

from __future__ import annotations

import functools
import hashlib
import time

from django.core.cache import cache
from django.http import HttpResponse, JsonResponse

from accounts.client_address import client_address
from accounts.rest import error_body


def _client_key(request) -> str:
    ip = client_address(request) or "unknown"
    # Hashed so that raw IPs never sit in the cache.
    return hashlib.sha256(ip.encode()).hexdigest()[:32]


def hit(scope: str, *, key: str, limit: int, period: int) -> int | None:
    """Count one hit; return seconds to wait when over the limit, else None."""
    window = int(time.time() // period)
    cache_key = f"rl:{scope}:{key}:{window}"
    if cache.add(cache_key, 1, timeout=period + 1):
        count = 1
    else:
        try:
            count = cache.incr(cache_key)
        except ValueError:  # expired between add and incr
            cache.add(cache_key, 1, timeout=period + 1)
            count = 1
    if count > limit:
        return max(1, (window + 1) * period - int(time.time()))
    return None


def rate_limited(scope: str, *, limit: int, period: int, methods=("POST",)):
    """Throttle a view per client IP for the given HTTP methods."""

    def decorator(view):
        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            if request.method in methods:
                wait = hit(scope, key=_client_key(request), limit=limit, period=period)
                if wait is not None:
                    message = "Too many requests. Try again later."
                    if request.content_type == "application/json" or request.path.startswith(
                        "/api/"
                    ):
                        response = JsonResponse(error_body("throttled", message), status=429)
                    else:
                        response = HttpResponse(message, status=429, content_type="text/plain")
                    response["Retry-After"] = str(wait)
                    return response
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
