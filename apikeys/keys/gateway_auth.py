"""Authentication of the inference gateway by its service token.

The gateway sends `Authorization: Bearer <token>`. `GATEWAY_TOKENS` (read at call time)
lists every token currently valid, so a new token can be rolled out before the old one
is withdrawn. Each comparison is constant-time and every configured token is compared,
so the answer time does not reveal which token, or how much of one, matched.
"""

from __future__ import annotations

import hmac

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication

_SCHEME = b"bearer"


class GatewayService:
    """The authenticated principal of a gateway call (not a person, has no workspace)."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    pk = None

    def __str__(self) -> str:
        return "gateway"


def gateway_tokens() -> list[str]:
    """Return the configured gateway tokens, ignoring empty entries."""
    tokens = getattr(settings, "GATEWAY_TOKENS", None) or []
    if isinstance(tokens, str):
        tokens = tokens.split(",")
    return [token.strip() for token in tokens if token and token.strip()]


def gateway_token_is_valid(token: str | bytes) -> bool:
    """Tell whether `token` equals one of the configured gateway tokens."""
    candidate = token.encode("utf-8") if isinstance(token, str) else token
    if not candidate:
        return False
    matched = False
    for expected in gateway_tokens():
        # No early exit: every configured token costs one comparison.
        matched |= hmac.compare_digest(candidate, expected.encode("utf-8"))
    return matched


def gateway_token_from_header(header: str | bytes | None) -> bytes | None:
    """Extract the token of an `Authorization: Bearer <token>` header, or None."""
    if not header:
        return None
    raw = header.encode("latin-1") if isinstance(header, str) else header
    parts = raw.split()
    if len(parts) != 2 or parts[0].lower() != _SCHEME:
        return None
    return parts[1]


class GatewayTokenAuthentication(BaseAuthentication):
    """Authenticate the gateway; anything else is refused with 401."""

    def authenticate(self, request):
        token = gateway_token_from_header(request.META.get("HTTP_AUTHORIZATION"))
        if token is None:
            raise exceptions.NotAuthenticated("A gateway token is required.")
        if not gateway_token_is_valid(token):
            raise exceptions.AuthenticationFailed("The gateway token is not valid.")
        return GatewayService(), None

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="gateway"'


class GatewayTokenScheme(OpenApiAuthenticationExtension):
    target_class = "apikeys.keys.gateway_auth.GatewayTokenAuthentication"
    name = "gatewayToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A service token of the inference gateway (GATEWAY_TOKENS).",
        }
