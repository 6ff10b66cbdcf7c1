"""REST endpoints for a workspace's webhooks: endpoints, secrets, messages, delivery log.

Owners and admins only (`Perm.WEBHOOKS_MANAGE`), signed in with a session: management
keys are not accepted (no `key_scopes`), since an endpoint decides where the workspace's
events go. Registering an endpoint, changing its URL and rotating its secret need a
recent sign-in (re-authentication), as on the dashboard.
"""

from __future__ import annotations

from datetime import timedelta

from allauth.account.internal.flows.reauthentication import is_reauthentication_required
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import Perm
from accounts.rest import Pagination
from accounts.selectors import workspace_get_for_user
from accounts.webhooks import selectors, services
from accounts.webhooks import serializers as s

NO_STORE = "no-store"
REAUTH_MESSAGE = (
    "This change needs a recent sign-in. Confirm your password at "
    "/accounts/reauthenticate/ (or in the dashboard), then try again within a few minutes."
)
MESSAGE_ID = OpenApiParameter(
    "message_id",
    str,
    OpenApiParameter.PATH,
    description="A message id (msg_ and 32 hex digits).",
)


def _errors(*codes: int) -> dict:
    descriptions = {
        400: "The input is not valid, or the URL's host resolves to a refused address "
        "(code `webhook_url_refused`).",
        403: "Needs a recent sign-in (code `reauthentication_required`).",
        404: "Missing, or not yours to see (owners and admins only).",
        409: "Conflicts with the endpoint's state or the workspace's endpoint limit.",
    }
    return {code: OpenApiResponse(description=descriptions[code]) for code in codes}


def _require_recent_sign_in(request) -> None:
    if is_reauthentication_required(request._request, app=""):
        raise exceptions.PermissionDenied(REAUTH_MESSAGE, code="reauthentication_required")


def _with_secret(endpoint, secret: str, status_code: int) -> Response:
    data = s.WebhookEndpointOutputSerializer(endpoint).data
    data["secret"] = secret
    response = Response(data, status=status_code)
    response["Cache-Control"] = NO_STORE
    response["Pragma"] = "no-cache"
    return response


class _WebhooksView(APIView):
    def parse(self, serializer_class, data):
        serializer = serializer_class(data=data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def endpoint(self):
        return selectors.webhook_endpoint_get_for_user(
            user=self.request.user,
            workspace_id=self.kwargs["workspace_id"],
            endpoint_id=self.kwargs["endpoint_id"],
        )[1]


class WebhookEndpointListView(_WebhooksView):
    pagination_class = Pagination

    @extend_schema(
        operation_id="webhooks_list",
        responses={200: s.WebhookEndpointOutputSerializer(many=True), **_errors(400, 404)},
    )
    def get(self, request, workspace_id):
        workspace = workspace_get_for_user(
            user=request.user, workspace_id=workspace_id, permission=Perm.WEBHOOKS_MANAGE
        )
        paginator = Pagination()
        page = paginator.paginate_queryset(
            selectors.webhook_endpoints_for_workspace(workspace=workspace), request, view=self
        )
        return paginator.get_paginated_response(
            s.WebhookEndpointOutputSerializer(page, many=True).data
        )

    @extend_schema(
        operation_id="webhooks_create",
        request=s.WebhookEndpointCreateInputSerializer,
        responses={
            201: s.WebhookEndpointWithSecretOutputSerializer,
            **_errors(400, 403, 404, 409),
        },
        description="Register an endpoint. The answer holds its signing secret, shown only "
        "this once.",
    )
    def post(self, request, workspace_id):
        workspace = workspace_get_for_user(
            user=request.user, workspace_id=workspace_id, permission=Perm.WEBHOOKS_MANAGE
        )
        data = self.parse(s.WebhookEndpointCreateInputSerializer, request.data)
        _require_recent_sign_in(request)
        endpoint, secret = services.webhook_endpoint_create(
            workspace=workspace,
            url=data["url"],
            event_types=data["event_types"],
            description=data.get("description", ""),
            actor=request.user,
        )
        return _with_secret(endpoint, secret, status.HTTP_201_CREATED)


class WebhookEndpointDetailView(_WebhooksView):
    @extend_schema(
        operation_id="webhooks_retrieve",
        responses={200: s.WebhookEndpointOutputSerializer, **_errors(404)},
    )
    def get(self, request, workspace_id, endpoint_id):
        return Response(s.WebhookEndpointOutputSerializer(self.endpoint()).data)

    @extend_schema(
        operation_id="webhooks_partial_update",
        request=s.WebhookEndpointUpdateInputSerializer,
        responses={200: s.WebhookEndpointOutputSerializer, **_errors(400, 403, 404)},
        description="Change the URL (needs a recent sign-in), description, event types, or "
        "enable and disable the endpoint.",
    )
    def patch(self, request, workspace_id, endpoint_id):
        endpoint = self.endpoint()
        data = self.parse(s.WebhookEndpointUpdateInputSerializer, request.data)
        if "url" in data and data["url"] != endpoint.url:
            _require_recent_sign_in(request)
        endpoint = services.webhook_endpoint_update(endpoint=endpoint, actor=request.user, **data)
        return Response(s.WebhookEndpointOutputSerializer(endpoint).data)

    @extend_schema(
        operation_id="webhooks_destroy",
        request=None,
        responses={204: None, **_errors(404)},
        description="Delete the endpoint with its messages and delivery log.",
    )
    def delete(self, request, workspace_id, endpoint_id):
        services.webhook_endpoint_delete(endpoint=self.endpoint(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookRotateSecretView(_WebhooksView):
    @extend_schema(
        operation_id="webhooks_rotate_secret",
        request=s.WebhookRotateSecretInputSerializer,
        responses={
            200: s.WebhookEndpointWithSecretOutputSerializer,
            **_errors(400, 403, 404),
        },
        description="Issue a new signing secret (shown only in this answer). The old one "
        "signs beside it for `overlap_hours` (required; 0 ends it at once).",
    )
    def post(self, request, workspace_id, endpoint_id):
        endpoint = self.endpoint()
        data = self.parse(s.WebhookRotateSecretInputSerializer, request.data)
        _require_recent_sign_in(request)
        endpoint, secret = services.webhook_endpoint_rotate_secret(
            endpoint=endpoint,
            actor=request.user,
            overlap=timedelta(hours=data["overlap_hours"]),
        )
        return _with_secret(endpoint, secret, status.HTTP_200_OK)


class WebhookMessageListView(_WebhooksView):
    pagination_class = Pagination

    @extend_schema(
        operation_id="webhooks_messages_list",
        responses={200: s.WebhookMessageOutputSerializer(many=True), **_errors(400, 404)},
        description="The messages recorded for the endpoint, newest first.",
    )
    def get(self, request, workspace_id, endpoint_id):
        messages = selectors.webhook_messages_for_endpoint(endpoint=self.endpoint())
        paginator = Pagination()
        page = paginator.paginate_queryset(messages, request, view=self)
        return paginator.get_paginated_response(
            s.WebhookMessageOutputSerializer(page, many=True).data
        )


class WebhookMessageResendView(_WebhooksView):
    @extend_schema(
        operation_id="webhooks_messages_resend",
        parameters=[MESSAGE_ID],
        request=None,
        responses={202: s.WebhookMessageOutputSerializer, **_errors(404, 409)},
        description="Deliver the message again, with the same webhook-id and a fresh "
        "retry schedule. 409 while the endpoint is disabled or the message is being "
        "delivered.",
    )
    def post(self, request, workspace_id, endpoint_id, message_id):
        message = selectors.webhook_message_get(endpoint=self.endpoint(), message_id=message_id)
        message = services.webhook_message_resend(message=message, actor=request.user)
        return Response(
            s.WebhookMessageOutputSerializer(message).data, status=status.HTTP_202_ACCEPTED
        )


class WebhookAttemptListView(_WebhooksView):
    pagination_class = Pagination

    @extend_schema(
        operation_id="webhooks_attempts_list",
        responses={200: s.WebhookAttemptOutputSerializer(many=True), **_errors(400, 404)},
        description="The delivery log: every attempt, newest first, with the answer's "
        "status, latency and first characters.",
    )
    def get(self, request, workspace_id, endpoint_id):
        attempts = selectors.webhook_attempts_for_endpoint(endpoint=self.endpoint())
        paginator = Pagination()
        page = paginator.paginate_queryset(attempts, request, view=self)
        return paginator.get_paginated_response(
            s.WebhookAttemptOutputSerializer(page, many=True).data
        )
