"""REST endpoints for a workspace's API keys, and the public leaked-key report.

Each endpoint resolves the workspace (and key) through the selectors, so missing and
forbidden answer the same 404; writes go through the services. Management keys may
call these endpoints within their `keys.read` / `keys.write` scopes (see `auth`).
"""

from __future__ import annotations

from allauth.account.internal.flows.reauthentication import is_reauthentication_required
from django.db import transaction
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.client_address import client_address
from accounts.permissions import Perm
from accounts.rest import Pagination
from accounts.selectors import workspace_get_for_user
from apikeys.keys import selectors, services, verification
from apikeys.keys import serializers as s
from apikeys.keys.auth import KeyAuth
from apikeys.keys.tokens import Environment

KEY_SCOPES_READ_WRITE = {
    "GET": "keys.read",
    "POST": "keys.write",
    "PATCH": "keys.write",
    "DELETE": "keys.write",
}
NO_STORE = "no-store"


def _error_responses(*codes: int) -> dict:
    descriptions = {
        400: "The input is not valid.",
        403: "A rule or the key's scopes refused.",
        404: "Missing, or not yours to see.",
        409: "Conflicts with the key's state or the workspace's key lifetime.",
    }
    return {code: OpenApiResponse(description=descriptions[code]) for code in codes}


class _KeysView(APIView):
    key_scopes = KEY_SCOPES_READ_WRITE

    def parse(self, serializer_class, data, **kwargs):
        serializer = serializer_class(data=data, **kwargs)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def via_key(self) -> services.KeyAuthority | None:
        """The management key making this call, if it is one: it may grant no more."""
        auth = self.request.auth
        if not isinstance(auth, KeyAuth):
            return None
        return services.KeyAuthority(scopes=auth.scopes, environment=auth.result.environment)

    def key(self, *, manage: bool):
        return selectors.api_key_get_for_user(
            user=self.request.user,
            workspace_id=self.kwargs["workspace_id"],
            public_id=self.kwargs["key_id"],
            manage=manage,
        )


def _with_secret(api_key, full_key: str, status_code: int) -> Response:
    data = s.ApiKeyOutputSerializer(api_key).data
    data["key"] = full_key
    response = Response(data, status=status_code)
    response["Cache-Control"] = NO_STORE
    response["Pragma"] = "no-cache"
    return response


class ApiKeyListView(_KeysView):
    # Read by the schema generator, which documents the page wrapping the list.
    pagination_class = Pagination

    @extend_schema(
        operation_id="api_keys_list",
        parameters=[s.ApiKeyListQuerySerializer],
        responses={200: s.ApiKeyOutputSerializer(many=True), **_error_responses(400, 404)},
    )
    def get(self, request, workspace_id):
        workspace = workspace_get_for_user(
            user=request.user, workspace_id=workspace_id, permission=Perm.KEYS_VIEW
        )
        filters = self.parse(s.ApiKeyListQuerySerializer, request.query_params)
        keys = selectors.api_keys_for_workspace(
            workspace=workspace,
            environment=filters.get("environment", ""),
            status=filters.get("status", ""),
            sort=filters.get("sort", ""),
        )
        paginator = Pagination()
        page = paginator.paginate_queryset(keys, request, view=self)
        return paginator.get_paginated_response(s.ApiKeyOutputSerializer(page, many=True).data)

    @extend_schema(
        operation_id="api_keys_create",
        request=s.ApiKeyCreateInputSerializer,
        responses={
            201: s.ApiKeyWithSecretOutputSerializer,
            **_error_responses(400, 403, 404, 409),
        },
        description="Create a key. The response holds the full key, shown only this once.",
    )
    def post(self, request, workspace_id):
        workspace = workspace_get_for_user(
            user=request.user, workspace_id=workspace_id, permission=Perm.KEYS_VIEW
        )
        data = self.parse(s.ApiKeyCreateInputSerializer, request.data)
        via_key = self.via_key()
        if (
            via_key is None
            and data["environment"] == Environment.PRODUCTION
            and is_reauthentication_required(request._request, app="")
        ):
            # The dashboard asks for the password again before a production key; so do we.
            raise exceptions.PermissionDenied(
                "Creating a production key needs a recent sign-in. Confirm your password "
                "at /accounts/reauthenticate/ (or in the dashboard), then try again within "
                "a few minutes.",
                code="reauthentication_required",
            )
        api_key, full_key = services.api_key_create(
            workspace=workspace, actor=request.user, via_key=via_key, **data
        )
        return _with_secret(api_key, full_key, status.HTTP_201_CREATED)


class ApiKeyDetailView(_KeysView):
    @extend_schema(
        operation_id="api_keys_retrieve",
        responses={200: s.ApiKeyOutputSerializer, **_error_responses(404)},
    )
    def get(self, request, workspace_id, key_id):
        _workspace, api_key = self.key(manage=False)
        return Response(s.ApiKeyOutputSerializer(api_key).data)

    @extend_schema(
        operation_id="api_keys_partial_update",
        request=s.ApiKeyUpdateInputSerializer,
        responses={200: s.ApiKeyOutputSerializer, **_error_responses(400, 403, 404)},
    )
    def patch(self, request, workspace_id, key_id):
        _workspace, api_key = self.key(manage=True)
        data = self.parse(s.ApiKeyUpdateInputSerializer, request.data)
        api_key = services.api_key_update(
            api_key=api_key, actor=request.user, via_key=self.via_key(), **data
        )
        return Response(s.ApiKeyOutputSerializer(api_key).data)

    @extend_schema(
        operation_id="api_keys_destroy",
        request=None,
        responses={204: None, **_error_responses(404)},
        description="Revoke the key and hide it; the audit log keeps it.",
    )
    def delete(self, request, workspace_id, key_id):
        _workspace, api_key = self.key(manage=True)
        services.api_key_delete(api_key=api_key, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ApiKeyRotateView(_KeysView):
    @extend_schema(
        operation_id="api_keys_rotate",
        request=s.ApiKeyRotateInputSerializer,
        responses={
            200: s.ApiKeyWithSecretOutputSerializer,
            **_error_responses(400, 403, 404, 409),
        },
        description="Issue a new secret; the old one works for the chosen grace period.",
    )
    def post(self, request, workspace_id, key_id):
        _workspace, api_key = self.key(manage=True)
        data = self.parse(s.ApiKeyRotateInputSerializer, request.data)
        api_key, full_key = services.api_key_rotate(
            api_key=api_key, actor=request.user, grace=data["grace"], via_key=self.via_key()
        )
        return _with_secret(api_key, full_key, status.HTTP_200_OK)


class ApiKeyRevokeView(_KeysView):
    @extend_schema(
        operation_id="api_keys_revoke",
        request=None,
        responses={200: s.ApiKeyOutputSerializer, **_error_responses(404)},
        description="Revoke at once: the next verify fails.",
    )
    def post(self, request, workspace_id, key_id):
        _workspace, api_key = self.key(manage=True)
        api_key = services.api_key_revoke(api_key=api_key, actor=request.user)
        return Response(s.ApiKeyOutputSerializer(api_key).data)


LEAK_REPORTS_PER_MINUTE = 30


class ApiKeyLeakReportView(APIView):
    """Public: secret scanners report keys found in public places."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="api_keys_report_leak",
        request=s.ApiKeyLeakReportInputSerializer,
        responses={202: s.ApiKeyLeakReportOutputSerializer, 400: None, 429: None},
        auth=[],
        description=(
            "Report a key found in public. A valid key is revoked at once and its "
            "workspace owners are told; the answer is the same whatever the key was."
        ),
    )
    def post(self, request):
        if not _leak_report_allowed(client_address(request) or "unknown"):
            from rest_framework.exceptions import Throttled

            raise Throttled(wait=60)
        serializer = s.ApiKeyLeakReportInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with transaction.atomic():
            services.api_key_report_leaked(
                key=serializer.validated_data["key"],
                source=serializer.validated_data.get("source", ""),
            )
        return Response({"status": "received"}, status=status.HTTP_202_ACCEPTED)


def _leak_report_allowed(ip: str) -> bool:
    """Count reports per client IP per minute in Redis (atomic INCR)."""
    key = f"{verification.key_prefix()}leak:{ip}"
    return verification.store().count(key, 60) <= LEAK_REPORTS_PER_MINUTE
