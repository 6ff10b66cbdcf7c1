"""REST automation with a management key: `Authorization: Bearer cnsl_...`.

The key is verified like any gateway call (revocation, expiry, IP allowlist and rate
limits all apply), then confined: only endpoints that declare `key_scopes` accept it,
only for the key's own workspace (any other workspace answers 404, as if it did not
exist) and only within its scopes. The request acts as the key's creator, so a key can
never do more than its creator's current role allows either.
"""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication

from accounts.client_address import client_address
from apikeys.keys import tokens as keys
from apikeys.keys.scopes import MANAGEMENT_SCOPES
from apikeys.keys.verification import RATE_LIMITED, VerifyResult, verify

_PREFIX = f"{keys.PRODUCT}_"


class KeyAuth:
    """`request.auth` of a key-authenticated request."""

    def __init__(self, result: VerifyResult):
        self.result = result
        self.key_id = result.key_id
        self.pk = result.pk
        self.workspace_id = result.workspace_id
        self.scopes = frozenset(result.scopes)

    def __str__(self) -> str:
        return f"api key {self.key_id}"


def _required_scope(view, method: str) -> str | None:
    scopes = getattr(view, "key_scopes", None) or {}
    if method in ("HEAD", "OPTIONS"):
        method = "GET"
    return scopes.get(method)


class ApiKeyAuthentication(BaseAuthentication):
    """Authenticate a management key for the workspace endpoint it calls."""

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token.startswith(_PREFIX):
            # Not ours: other bearer tokens (the gateway's) are for other classes.
            return None
        result = verify(token, client_ip=client_address(request))
        if not result.valid:
            if result.code == RATE_LIMITED:
                raise exceptions.Throttled(wait=result.retry_after)
            raise exceptions.AuthenticationFailed(f"The API key is not valid ({result.code}).")
        if not set(result.scopes) & set(MANAGEMENT_SCOPES):
            raise exceptions.AuthenticationFailed("This API key has no management scopes.")

        context = getattr(request, "parser_context", None) or {}
        view = context.get("view")
        kwargs = context.get("kwargs") or {}
        if "workspace_id" in kwargs and str(kwargs["workspace_id"]) != result.workspace_id:
            # Another workspace does not exist for this key, whatever the endpoint.
            raise exceptions.NotFound()
        required = _required_scope(view, request.method)
        if required is None or "workspace_id" not in kwargs:
            raise exceptions.PermissionDenied("API keys cannot use this endpoint.")
        if required not in result.scopes:
            raise exceptions.PermissionDenied(f"This API key lacks the {required} scope.")

        from apikeys.keys.models import ApiKey

        creator = ApiKey.objects.filter(pk=result.pk).select_related("created_by").first()
        user = creator.created_by if creator else None
        if user is None or not user.is_active:
            raise exceptions.AuthenticationFailed("The API key's creator is no longer active.")
        return user, KeyAuth(result)

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "apikeys.keys.auth.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": (
                "An API key with management scopes (keys.read, keys.write, members.read, "
                "usage.read, audit.read), valid for its own workspace only."
            ),
        }
