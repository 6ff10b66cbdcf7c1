"""DRF throttles that count per client address (`accounts.client_address`).

DRF's own `get_ident` believes any `X-Forwarded-For` unless `NUM_PROXIES` is set, and
counts hops rather than checking who wrote them; these ask the one function instead.
"""

from rest_framework import throttling

from accounts.client_address import client_address


class ClientAddressMixin:
    def get_ident(self, request) -> str:
        return client_address(request) or "unknown"


class AnonRateThrottle(ClientAddressMixin, throttling.AnonRateThrottle):
    """Throttle anonymous requests per client address."""


class UserRateThrottle(ClientAddressMixin, throttling.UserRateThrottle):
    """Throttle per user, and anonymous requests per client address."""
