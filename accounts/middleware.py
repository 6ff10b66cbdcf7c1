"""Request-scoped context for the audit log, and session activity for the sessions list."""

import hashlib

from allauth.usersessions import app_settings as usersessions_settings
from allauth.usersessions.models import UserSession
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from accounts import request_context
from accounts.client_address import client_address


class RequestContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with request_context.bind(request_context.from_request(request)):
            return self.get_response(request)


class UserSessionActivityMiddleware:
    """Record a signed-in session's activity for the sessions list, at most once per
    `USERSESSIONS_ACTIVITY_INTERVAL` seconds (60 unless set) while its address and
    browser stay the same.

    allauth's own middleware reads and rewrites the session's row on every request:
    three queries and a transaction on every page. Here a cache entry remembers the
    last record of the session (by a hash of its key, never the key itself); a request
    from another address or browser is recorded at once, as before, so only "last
    seen" gets coarser, by at most the interval.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if (
            usersessions_settings.TRACK_ACTIVITY
            and hasattr(request, "session")
            and request.session.session_key
            and hasattr(request, "user")
            and request.user.is_authenticated
        ):
            self._record(request)
        return self.get_response(request)

    def _record(self, request) -> None:
        session_hash = hashlib.sha256(request.session.session_key.encode()).hexdigest()[:32]
        key = f"usersession-seen:{session_hash}"
        client = hashlib.sha256(
            "\n".join(
                (
                    str(client_address(request)),
                    request.META.get("HTTP_USER_AGENT", ""),
                )
            ).encode()
        ).hexdigest()[:32]
        interval = getattr(settings, "USERSESSIONS_ACTIVITY_INTERVAL", 60)
        now = timezone.now().timestamp()
        seen = cache.get(key)
        if seen and seen[0] == client and 0 <= now - seen[1] < interval:
            return
        UserSession.objects.create_from_request(request)
        cache.set(key, (client, now), interval)
