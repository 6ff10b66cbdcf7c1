"""Writes for webhooks: endpoints, their secrets, and the messages recorded for them.

Every service is atomic and records its audit event in the same transaction. Messages
are written in the caller's transaction (the change they describe commits with them or
not at all) and their delivery starts on commit (accounts.webhooks.delivery).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from accounts.audit import Action, audit_record
from accounts.emails import email_enqueue
from accounts.errors import Conflict, DomainError, Forbidden
from accounts.jobs import job_enqueue
from accounts.models import Membership, User, Workspace
from accounts.permissions import Perm, role_has_permission
from accounts.selectors import membership_get
from accounts.validators import text_has_unsafe_chars
from accounts.webhooks import events, signing
from accounts.webhooks.models import (
    DESCRIPTION_MAX_LENGTH,
    WebhookEndpoint,
    WebhookMessage,
    WebhookMessageStatus,
)
from accounts.webhooks.network import WebhookUrlRefused, url_check

DELIVER_TASK = "accounts.webhook_deliver"
MAX_ENDPOINTS_PER_WORKSPACE = 20
UPDATABLE_FIELDS = ("url", "description", "event_types", "enabled")


def _setting(name: str, default):
    return getattr(settings, name, default)


# ---------------------------------------------------------------------------- checks


def _require_manager(*, workspace: Workspace | None, actor: User | None) -> None:
    """Only owners and admins manage a workspace's endpoints; system ones have no workspace."""
    if workspace is None:
        return
    membership = membership_get(user=actor, workspace_id=workspace.pk) if actor else None
    role = membership.role if membership is not None else None
    if not role_has_permission(role, Perm.WEBHOOKS_MANAGE):
        raise Forbidden("Only the workspace's owners and admins manage its webhooks.")


def webhook_url_clean(url: str) -> str:
    """Check a receiver URL as registration does; return it or raise DomainError.

    A name that resolves is checked address by address now; one that does not resolve
    yet is accepted and checked again, like every URL, at each delivery.
    """
    try:
        url_check(url, resolve_host=False)
    except WebhookUrlRefused as exc:
        raise DomainError(str(exc), code="webhook_url_refused", fields={"url": [str(exc)]}) from exc
    return url


def _event_types_clean(event_types, *, workspace: Workspace | None) -> list[str]:
    if not isinstance(event_types, list | tuple) or not event_types:
        raise DomainError(
            "Choose at least one event type.", fields={"event_types": ["Choose at least one."]}
        )
    if workspace is not None:
        unknown = sorted({t for t in event_types if t not in events.EVENT_TYPES}, key=str)
        if unknown:
            message = f"Unknown event type(s): {', '.join(map(str, unknown))}."
            raise DomainError(message, fields={"event_types": [message]})
        # Catalogue order, no repeats.
        return [t for t in events.EVENT_TYPES if t in event_types]
    cleaned = []
    for event_type in event_types:
        if not isinstance(event_type, str) or not event_type or len(event_type) > 100:
            raise DomainError("Event types are names of at most 100 characters.")
        if event_type not in cleaned:
            cleaned.append(event_type)
    return cleaned


def _description_clean(description: str) -> str:
    description = (description or "").strip()
    if len(description) > DESCRIPTION_MAX_LENGTH:
        raise DomainError(
            f"Keep the description under {DESCRIPTION_MAX_LENGTH} characters.",
            fields={"description": ["Too long."]},
        )
    if text_has_unsafe_chars(description):
        message = "The description may not contain control or bidirectional characters."
        raise DomainError(message, fields={"description": [message]})
    return description


# ---------------------------------------------------------------------------- endpoints


@transaction.atomic
def webhook_endpoint_create(
    *,
    workspace: Workspace | None,
    url: str,
    event_types: list[str],
    description: str,
    actor: User | None,
    secret: str | None = None,
) -> tuple[WebhookEndpoint, str]:
    """Register a receiver; return it and its signing secret (shown once, never again).

    `workspace=None` registers a system endpoint (its feature checks who may); those may
    carry event types of their own. A given `secret` must be a `whsec_` secret.
    """
    _require_manager(workspace=workspace, actor=actor)
    url = webhook_url_clean(url)
    event_types = _event_types_clean(event_types, workspace=workspace)
    description = _description_clean(description)
    if secret is None:
        secret = signing.secret_generate()
    else:
        try:
            signing.secret_key(secret)
        except ValueError as exc:
            raise DomainError(str(exc), fields={"secret": [str(exc)]}) from exc
    if workspace is not None:
        Workspace.objects.select_for_update().filter(pk=workspace.pk).first()
        if workspace.webhook_endpoints.count() >= MAX_ENDPOINTS_PER_WORKSPACE:
            raise Conflict(
                f"A workspace has at most {MAX_ENDPOINTS_PER_WORKSPACE} webhook endpoints."
            )
    now = timezone.now()
    endpoint = WebhookEndpoint.objects.create(
        workspace=workspace,
        url=url,
        description=description,
        event_types=event_types,
        secret=secret,
        created_by=actor if getattr(actor, "pk", None) else None,
        created_at=now,
        updated_at=now,
    )
    audit_record(
        action=Action.WEBHOOK_ENDPOINT_CREATED,
        actor=actor,
        workspace=workspace,
        target=endpoint,
        metadata={"event_types": event_types},
    )
    return endpoint, secret


@transaction.atomic
def webhook_endpoint_update(
    *, endpoint: WebhookEndpoint, actor: User | None, **changes
) -> WebhookEndpoint:
    """Change the URL, description, event types or enabled state of an endpoint.

    Enabling a disabled endpoint clears its failure record; messages it missed stay as
    they are until someone resends them.
    """
    unknown = set(changes) - set(UPDATABLE_FIELDS)
    if unknown:
        raise DomainError(f"Cannot change {', '.join(sorted(unknown))}.")
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    _require_manager(workspace=endpoint.workspace, actor=actor)
    changed: list[str] = []
    if "url" in changes and changes["url"] != endpoint.url:
        endpoint.url = webhook_url_clean(changes["url"])
        changed.append("url")
    if "description" in changes:
        description = _description_clean(changes["description"])
        if description != endpoint.description:
            endpoint.description = description
            changed.append("description")
    if "event_types" in changes:
        event_types = _event_types_clean(changes["event_types"], workspace=endpoint.workspace)
        if event_types != endpoint.event_types:
            endpoint.event_types = event_types
            changed.append("event_types")
    if "enabled" in changes and bool(changes["enabled"]) != endpoint.enabled:
        if changes["enabled"]:
            endpoint.disabled_at = None
            endpoint.disabled_reason = ""
            endpoint.failing_since = None
        else:
            endpoint.disabled_at = timezone.now()
            endpoint.disabled_reason = "Disabled by a member of the workspace."
        changed.append("enabled")
    if not changed:
        return endpoint
    endpoint.updated_at = timezone.now()
    endpoint.save()
    audit_record(
        action=Action.WEBHOOK_ENDPOINT_UPDATED,
        actor=actor,
        workspace=endpoint.workspace,
        target=endpoint,
        metadata={"fields": changed, "enabled": endpoint.enabled},
    )
    return endpoint


@transaction.atomic
def webhook_endpoint_delete(*, endpoint: WebhookEndpoint, actor: User | None) -> None:
    """Delete an endpoint with its messages and delivery log."""
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    _require_manager(workspace=endpoint.workspace, actor=actor)
    audit_record(
        action=Action.WEBHOOK_ENDPOINT_DELETED,
        actor=actor,
        workspace=endpoint.workspace,
        target=endpoint,
    )
    endpoint.delete()


@transaction.atomic
def webhook_endpoint_rotate_secret(
    *, endpoint: WebhookEndpoint, actor: User | None, overlap: timedelta | None = None
) -> tuple[WebhookEndpoint, str]:
    """Give the endpoint a new secret; the old one keeps signing beside it for `overlap`.

    Return the endpoint and the new secret (shown once). A second rotation during an
    overlap ends the first one: only the secret being replaced overlaps.
    """
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    _require_manager(workspace=endpoint.workspace, actor=actor)
    if overlap is None:
        overlap = timedelta(hours=_setting("WEBHOOK_SECRET_OVERLAP_HOURS", 24))
    if overlap < timedelta(0) or overlap > timedelta(days=7):
        raise DomainError("The overlap is between 0 and 7 days.")
    now = timezone.now()
    secret = signing.secret_generate()
    if overlap > timedelta(0):
        endpoint.previous_secret = endpoint.secret
        endpoint.previous_secret_expires_at = now + overlap
    else:
        endpoint.previous_secret = None
        endpoint.previous_secret_expires_at = None
    endpoint.secret = secret
    endpoint.updated_at = now
    endpoint.save()
    audit_record(
        action=Action.WEBHOOK_SECRET_ROTATED,
        actor=actor,
        workspace=endpoint.workspace,
        target=endpoint,
        metadata={"overlap_seconds": int(overlap.total_seconds())},
    )
    return endpoint, secret


@transaction.atomic
def webhook_endpoint_disable(*, endpoint: WebhookEndpoint, reason: str) -> bool:
    """Stop delivering to a failing endpoint and tell the workspace's owners by email.

    Return False when it was disabled already (by someone else, or a parallel worker).
    """
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    if endpoint.disabled_at is not None:
        return False
    endpoint.disabled_at = timezone.now()
    endpoint.disabled_reason = reason[:200]
    endpoint.save(update_fields=["disabled_at", "disabled_reason"])
    audit_record(
        action=Action.WEBHOOK_ENDPOINT_DISABLED,
        workspace=endpoint.workspace,
        target=endpoint,
        metadata={"reason": endpoint.disabled_reason},
    )
    workspace = endpoint.workspace
    if workspace is not None:
        owners = list(
            Membership.objects.owners()
            .filter(workspace=workspace, user__is_active=True)
            .values_list("user__email", flat=True)
        )
        if owners:
            email_enqueue(
                to=owners,
                template="webhooks/email/endpoint_disabled",
                context={
                    "workspace_name": workspace.name,
                    "url": endpoint.url,
                    "reason": endpoint.disabled_reason,
                    "failing_since": endpoint.failing_since or endpoint.disabled_at,
                    "webhooks_url": f"{settings.SITE_URL}/w/{workspace.pk}/webhooks/",
                },
            )
    return True


# ---------------------------------------------------------------------------- messages


def _envelope(*, event_type: str, data: dict, now: datetime) -> dict:
    # Dates, UUIDs and decimals become strings now, as every delivery will send them.
    data = json.loads(json.dumps(data, cls=DjangoJSONEncoder))
    return {
        "type": event_type,
        "timestamp": now.isoformat().replace("+00:00", "Z"),
        "schema_version": events.SCHEMA_VERSION,
        "data": data,
    }


@transaction.atomic
def webhook_message_enqueue(
    *, endpoint: WebhookEndpoint, event_type: str, data: dict
) -> WebhookMessage:
    """Record one event for one endpoint in the caller's transaction; deliver on commit.

    Any event type is accepted (system endpoints carry their own). `data` must be JSON
    and must never hold a secret.
    """
    if not isinstance(event_type, str) or not event_type or len(event_type) > 100:
        raise DomainError("An event type is a name of at most 100 characters.")
    now = timezone.now()
    message = WebhookMessage.objects.create(
        endpoint=endpoint,
        event_type=event_type,
        payload=_envelope(event_type=event_type, data=data, now=now),
        created_at=now,
        # The message started on commit is given this long before the sweep sends another.
        next_attempt_at=now + timedelta(seconds=_setting("WEBHOOK_REQUEUE_AFTER_SECONDS", 60)),
    )
    job_enqueue(DELIVER_TASK, message_id=message.pk)
    return message


@transaction.atomic
def webhook_event_record(
    *, workspace: Workspace, event_type: str, data: dict
) -> list[WebhookMessage]:
    """Fan an event out to every enabled endpoint of the workspace subscribed to it.

    Call it inside the transaction of the change the event describes. No endpoint, no
    message and no error.
    """
    endpoints = (
        WebhookEndpoint.objects.filter(workspace=workspace).enabled().subscribed_to(event_type)
    )
    return [
        webhook_message_enqueue(endpoint=endpoint, event_type=event_type, data=data)
        for endpoint in endpoints
    ]


@transaction.atomic
def webhook_message_resend(*, message: WebhookMessage, actor: User | None) -> WebhookMessage:
    """Deliver a message again, with the same `webhook-id`, and a fresh backoff schedule."""
    message = (
        WebhookMessage.objects.select_for_update().select_related("endpoint").get(pk=message.pk)
    )
    endpoint = message.endpoint
    _require_manager(workspace=endpoint.workspace, actor=actor)
    if not endpoint.enabled:
        raise Conflict("Enable the endpoint before resending its messages.")
    now = timezone.now()
    if message.status == WebhookMessageStatus.SENDING and (
        message.claimed_until is not None and message.claimed_until >= now
    ):
        raise Conflict("The message is being delivered right now.")
    message.status = WebhookMessageStatus.PENDING
    message.round_attempts = 0
    message.claimed_until = None
    message.claim_token = ""
    message.next_attempt_at = now + timedelta(seconds=_setting("WEBHOOK_REQUEUE_AFTER_SECONDS", 60))
    message.save()
    audit_record(
        action=Action.WEBHOOK_MESSAGE_RESENT,
        actor=actor,
        workspace=endpoint.workspace,
        target=endpoint,
        metadata={"message_id": message.pk, "event_type": message.event_type},
    )
    job_enqueue(DELIVER_TASK, message_id=message.pk)
    return message
