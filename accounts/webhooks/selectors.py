"""Reads with access checks: a workspace's endpoints, their messages and delivery log.

Only owners and admins (`Perm.WEBHOOKS_MANAGE`) see a workspace's endpoints and log: a
receiver's answers may quote anything, and the URLs are where the workspace's events go.
Missing and forbidden answer the same NotFound.
"""

from __future__ import annotations

import uuid

from django.db.models import QuerySet

from accounts.errors import NotFound
from accounts.models import Workspace
from accounts.permissions import Perm
from accounts.selectors import workspace_get_for_user
from accounts.webhooks.models import WebhookAttempt, WebhookEndpoint, WebhookMessage


def webhook_endpoints_for_workspace(*, workspace: Workspace) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(workspace=workspace).order_by("created_at")


def webhook_endpoint_get_for_user(
    *, user, workspace_id, endpoint_id
) -> tuple[Workspace, WebhookEndpoint]:
    workspace = workspace_get_for_user(
        user=user, workspace_id=workspace_id, permission=Perm.WEBHOOKS_MANAGE
    )
    try:
        endpoint_uuid = uuid.UUID(str(endpoint_id))
    except ValueError:
        raise NotFound() from None
    endpoint = WebhookEndpoint.objects.filter(workspace=workspace, pk=endpoint_uuid).first()
    if endpoint is None:
        raise NotFound()
    return workspace, endpoint


def webhook_messages_for_endpoint(*, endpoint: WebhookEndpoint) -> QuerySet[WebhookMessage]:
    return WebhookMessage.objects.filter(endpoint=endpoint).order_by("-created_at", "-id")


def webhook_message_get(*, endpoint: WebhookEndpoint, message_id: str) -> WebhookMessage:
    message = WebhookMessage.objects.filter(endpoint=endpoint, pk=str(message_id)[:40]).first()
    if message is None:
        raise NotFound()
    return message


def webhook_attempts_for_endpoint(*, endpoint: WebhookEndpoint) -> QuerySet[WebhookAttempt]:
    return WebhookAttempt.objects.filter(endpoint=endpoint).order_by("-attempted_at", "-id")
