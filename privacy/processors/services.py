"""Processors: the registry, carrying privacy requests to them, their answers, staff
overrides and reminders.

Every change is audited in its transaction. Features above this one (requests,
deletion) call `processor_actions_dispatch`; they hear that a request's actions are
all settled through `PROCESSOR_ACTIONS_SETTLED_HOOKS`, which they register at start-up.
"""

from __future__ import annotations

import json
import secrets
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.audit import audit_record
from accounts.errors import Conflict, DomainError, NotFound
from accounts.models import Membership
from accounts.webhooks.services import (
    webhook_endpoint_create,
    webhook_endpoint_rotate_secret,
    webhook_endpoint_update,
    webhook_message_enqueue,
)
from apikeys.keys.models import ApiKey
from apikeys.keys.tokens import ALPHABET, secret_hash, secret_matches
from privacy.processors.models import (
    OPEN_STATES,
    SETTLED_STATES,
    ActionState,
    Processor,
    ProcessorAction,
    ProcessorRequestKind,
    SubjectIdentifier,
)

EVENT_TYPE = "privacy_request.processor_action"
TOKEN_PREFIX = "prc_"
ACTION_PREFIX = "pra_"
RESULT_MAX_LENGTH = 500
REASON_MAX_LENGTH = 1000

# Called as hook(privacy_request_id=...) in the transaction in which the last
# outstanding action of a privacy request was settled. Features above register here.
PROCESSOR_ACTIONS_SETTLED_HOOKS: list = []


class ProcessorAuditAction:
    CREATED = "privacy_processor.created"
    UPDATED = "privacy_processor.updated"
    SECRET_ROTATED = "privacy_processor.secret_rotated"
    TOKEN_ROTATED = "privacy_processor.token_rotated"
    ACTION_CREATED = "privacy_processor.action_created"
    ACTION_SENT = "privacy_processor.action_sent"
    ACTION_RECEIVED = "privacy_processor.action_received"
    ACTION_COMPLETED = "privacy_processor.action_completed"
    ACTION_REFUSED = "privacy_processor.action_refused"
    ACTION_OVERRIDDEN = "privacy_processor.action_overridden"
    ACTION_CANCELLED = "privacy_processor.action_cancelled"
    ACTION_REMINDED = "privacy_processor.action_reminded"


# ---------------------------------------------------------------------------- secrets


def _random_base62(length: int) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def _new_token() -> tuple[str, str, str, str]:
    """Return (token, public id, hash, pepper id) of a fresh callback token."""
    public_id = _random_base62(12)
    secret = _random_base62(43)
    digest, pepper_id = secret_hash(secret)
    return f"{TOKEN_PREFIX}{public_id}_{secret}", public_id, digest, pepper_id


def processor_authenticate(*, token: str) -> Processor | None:
    """Return the active processor whose callback token this is, or None."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 100:
        return None
    public_id, _, secret = token[len(TOKEN_PREFIX) :].partition("_")
    if not public_id or not secret or not secret.isascii() or not secret.isalnum():
        return None
    processor = Processor.objects.active().filter(token_public_id=public_id).first()
    if processor is None:
        return None
    if not secret_matches(
        secret, stored_hash=processor.token_hash, pepper_id=processor.token_pepper_id
    ):
        return None
    return processor


# ---------------------------------------------------------------------------- registry


def _clean_registry_fields(
    *, name: str, purpose: str, url: str, request_kinds, identifiers
) -> dict:
    name = (name or "").strip()
    errors: dict[str, list[str]] = {}
    if not name or len(name) > 100:
        errors["name"] = ["Between 1 and 100 characters."]
    purpose = (purpose or "").strip()
    if not purpose or len(purpose) > 1000:
        errors["purpose"] = ["Between 1 and 1000 characters."]
    url = (url or "").strip()
    parts = urlsplit(url)
    # Plain HTTP only reaches the allowed private ranges; the webhook mechanism checks
    # that, and every other SSRF rule, when the endpoint is created and at each delivery.
    if parts.scheme not in ("https", "http") or not parts.hostname or len(url) > 2000:
        errors["url"] = ["An https:// URL."]
    kinds = sorted(set(request_kinds or []))
    if not kinds or any(k not in ProcessorRequestKind.values for k in kinds):
        errors["request_kinds"] = ["Choose at least one request type it handles."]
    wanted = sorted(set(identifiers or []))
    if not wanted or any(i not in SubjectIdentifier.values for i in wanted):
        errors["identifiers"] = ["Choose at least one identifier it needs."]
    if errors:
        raise DomainError("The processor is not valid.", fields=errors)
    return {
        "name": name,
        "purpose": purpose,
        "url": url,
        "request_kinds": kinds,
        "identifiers": wanted,
    }


@transaction.atomic
def processor_create(
    *,
    name: str,
    purpose: str,
    url: str,
    request_kinds: list[str],
    identifiers: list[str],
    actor,
) -> tuple[Processor, str, str]:
    """Register a processor; return it, its signing secret and its callback token
    (both shown once)."""
    fields = _clean_registry_fields(
        name=name, purpose=purpose, url=url, request_kinds=request_kinds, identifiers=identifiers
    )
    if Processor.objects.filter(name__iexact=fields["name"]).exists():
        raise DomainError("A processor of that name exists.", fields={"name": ["Taken."]})
    # The destination checks the URL (SSRF rules) and makes the signing secret.
    endpoint, signing_secret = webhook_endpoint_create(
        workspace=None,
        url=fields["url"],
        event_types=[EVENT_TYPE],
        description=_endpoint_description(fields["name"]),
        actor=actor,
    )
    token, public_id, digest, pepper_id = _new_token()
    processor = Processor.objects.create(
        **fields,
        webhook_endpoint=endpoint,
        token_public_id=public_id,
        token_hash=digest,
        token_pepper_id=pepper_id,
    )
    audit_record(
        action=ProcessorAuditAction.CREATED,
        actor=actor,
        target=processor,
        metadata={"kinds": fields["request_kinds"], "identifiers": fields["identifiers"]},
    )
    return processor, signing_secret, token


@transaction.atomic
def processor_update(
    *,
    processor: Processor,
    name: str,
    purpose: str,
    url: str,
    request_kinds: list[str],
    identifiers: list[str],
    disabled: bool,
    actor,
) -> Processor:
    """Change what a processor is, handles and needs; disable or enable it."""
    fields = _clean_registry_fields(
        name=name, purpose=purpose, url=url, request_kinds=request_kinds, identifiers=identifiers
    )
    taken = Processor.objects.filter(name__iexact=fields["name"]).exclude(pk=processor.pk)
    if taken.exists():
        raise DomainError("A processor of that name exists.", fields={"name": ["Taken."]})
    processor = Processor.objects.select_for_update().get(pk=processor.pk)
    if processor.webhook_endpoint is not None:
        webhook_endpoint_update(
            endpoint=processor.webhook_endpoint,
            actor=actor,
            url=fields["url"],
            description=_endpoint_description(fields["name"]),
        )
    for field, value in fields.items():
        setattr(processor, field, value)
    now = timezone.now()
    if disabled and processor.disabled_at is None:
        processor.disabled_at = now
    elif not disabled:
        processor.disabled_at = None
    processor.updated_at = now
    processor.save()
    audit_record(
        action=ProcessorAuditAction.UPDATED,
        actor=actor,
        target=processor,
        metadata={
            "kinds": fields["request_kinds"],
            "identifiers": fields["identifiers"],
            "disabled": disabled,
        },
    )
    return processor


@transaction.atomic
def processor_rotate_secret(*, processor: Processor, actor) -> str:
    """Give the processor a new signing secret; return it (shown once).

    The previous secret signs beside it for WEBHOOK_SECRET_OVERLAP_HOURS, so the
    processor can switch without losing a message.
    """
    processor = Processor.objects.select_for_update().get(pk=processor.pk)
    if processor.webhook_endpoint is None:
        raise Conflict("This processor has no webhook endpoint.", code="no_endpoint")
    _, secret = webhook_endpoint_rotate_secret(endpoint=processor.webhook_endpoint, actor=actor)
    processor.secret_rotated_at = processor.updated_at = timezone.now()
    processor.save(update_fields=["secret_rotated_at", "updated_at"])
    audit_record(action=ProcessorAuditAction.SECRET_ROTATED, actor=actor, target=processor)
    return secret


@transaction.atomic
def processor_rotate_token(*, processor: Processor, actor) -> str:
    """Give the processor a new callback token; the old one stops working at once."""
    processor = Processor.objects.select_for_update().get(pk=processor.pk)
    token, public_id, digest, pepper_id = _new_token()
    processor.token_public_id = public_id
    processor.token_hash = digest
    processor.token_pepper_id = pepper_id
    processor.token_rotated_at = processor.updated_at = timezone.now()
    processor.save(
        update_fields=[
            "token_public_id",
            "token_hash",
            "token_pepper_id",
            "token_rotated_at",
            "updated_at",
        ]
    )
    audit_record(action=ProcessorAuditAction.TOKEN_ROTATED, actor=actor, target=processor)
    return token


def _endpoint_description(name: str) -> str:
    return f"Privacy processor: {name}"[:200]


# ---------------------------------------------------------------------------- dispatch


def processor_subject_identifiers(*, user_id: int | None, email: str) -> dict:
    """Collect every identifier of the data subject a processor may ask for."""
    identifiers: dict = {SubjectIdentifier.EMAIL.value: (email or "").lower()}
    if user_id is None:
        return identifiers
    workspace_ids = sorted(
        str(pk)
        for pk in Membership.objects.filter(user_id=user_id).values_list("workspace_id", flat=True)
    )
    key_ids = sorted(
        ApiKey.objects.filter(Q(created_by_id=user_id)).values_list("public_id", flat=True)
    )
    identifiers.update(
        {
            SubjectIdentifier.ACCOUNT_ID.value: str(user_id),
            SubjectIdentifier.WORKSPACE_IDS.value: workspace_ids,
            SubjectIdentifier.API_KEY_IDS.value: key_ids,
        }
    )
    return identifiers


def _audit_action(action: ProcessorAction, what: str, *, actor=None, metadata=None) -> None:
    audit_record(
        action=what,
        actor=actor,
        subject_user=action.subject_user_id,
        target=action,
        metadata={
            "processor": action.processor_id,
            "kind": action.kind,
            "state": action.state,
            "privacy_request": str(action.privacy_request_id or ""),
            "deletion": action.deletion_id,
            **(metadata or {}),
        },
    )


def processor_actions_dispatch(
    *,
    kind: str,
    identifiers: dict,
    privacy_request_id=None,
    deletion_id: int | None = None,
    subject_user_id: int | None = None,
    hold_until_deletion: bool = False,
) -> list[ProcessorAction]:
    """Create one action per active processor that handles `kind`, in the caller's
    transaction, each with only the identifiers its processor needs, and send them
    (unless held until the account deletion job runs)."""
    if kind not in ProcessorRequestKind.values:
        raise ValueError(f"Unknown processor request kind {kind!r}.")
    created = []
    for processor in Processor.objects.handling(kind):
        needed = {
            name: identifiers[name]
            for name in processor.identifiers
            if identifiers.get(name) not in (None, "", [])
        }
        action = ProcessorAction.objects.create(
            public_id=ACTION_PREFIX + secrets.token_hex(16),
            processor=processor,
            kind=kind,
            privacy_request_id=privacy_request_id,
            deletion_id=deletion_id,
            subject_user_id=subject_user_id,
            identifiers=json.dumps(needed, sort_keys=True),
            hold_until_deletion=hold_until_deletion,
        )
        _audit_action(
            action, ProcessorAuditAction.ACTION_CREATED, metadata={"identifiers": sorted(needed)}
        )
        if not hold_until_deletion:
            processor_action_send(action=action)
        created.append(action)
    return created


def processor_message_data(action: ProcessorAction, *, reminder: bool = False) -> dict:
    """The `data` of the message sent to the processor: no secret, only its identifiers."""
    base = settings.SITE_URL.rstrip("/")
    callback = f"{base}/api/v1/processors/requests/{action.public_id}"
    return {
        "action_id": action.public_id,
        "request_kind": action.kind,
        "requested_at": action.created_at.isoformat(),
        "state": action.state,
        "reminder": reminder,
        "reminders_sent": action.reminders_sent,
        "subject": json.loads(action.identifiers or "{}"),
        "callbacks": {
            "received": f"{callback}/received",
            "completed": f"{callback}/completed",
            "refused": f"{callback}/refused",
        },
    }


def processor_action_send(*, action: ProcessorAction, reminder: bool = False) -> bool:
    """Record the signed message for the action's processor in the caller's transaction
    (delivered on commit, with retries, by the webhook mechanism); return whether one
    was recorded.

    A pending action becomes `sent`. A processor without an endpoint is sent nothing
    and its action stays as it is.
    """
    endpoint = action.processor.webhook_endpoint
    if endpoint is None:
        return False
    fields = ["message_id"]
    first = action.state == ActionState.PENDING
    if first:
        action.state = ActionState.SENT
        action.sent_at = timezone.now()
        fields += ["state", "sent_at"]
    message = webhook_message_enqueue(
        endpoint=endpoint,
        event_type=EVENT_TYPE,
        data=processor_message_data(action, reminder=reminder),
    )
    action.message_id = message.pk
    action.save(update_fields=fields)
    if first:
        _audit_action(action, ProcessorAuditAction.ACTION_SENT, metadata={"message": message.pk})
    return True


# ---------------------------------------------------------------------------- answers


def processor_action_get(*, processor: Processor, public_id: str) -> ProcessorAction:
    """Return the processor's own action; anyone else's, or none, is NotFound."""
    if not isinstance(public_id, str) or not public_id.startswith(ACTION_PREFIX):
        raise NotFound()
    action = (
        ProcessorAction.objects.filter(processor=processor, public_id=public_id)
        .select_related("processor")
        .first()
    )
    if action is None:
        raise NotFound()
    return action


def _locked_action(processor: Processor, public_id: str) -> ProcessorAction:
    action = processor_action_get(processor=processor, public_id=public_id)
    return ProcessorAction.objects.select_for_update().select_related("processor").get(pk=action.pk)


def _illegal(action: ProcessorAction, to: str) -> Conflict:
    return Conflict(
        f"An action that is {action.get_state_display().lower()} cannot become "
        f"{ActionState(to).label.lower()}.",
        code="invalid_transition",
    )


def _clean_text(value: str, *, field: str, max_length: int) -> str:
    value = (value or "").strip()
    if not value:
        raise DomainError("Required.", fields={field: ["This field is required."]})
    if len(value) > max_length:
        raise DomainError("Too long.", fields={field: [f"At most {max_length} characters."]})
    return value


@transaction.atomic
def processor_action_receive(*, processor: Processor, public_id: str) -> ProcessorAction:
    """The processor has the request. Saying so again changes nothing."""
    action = _locked_action(processor, public_id)
    if action.state == ActionState.RECEIVED:
        return action
    if action.state not in (ActionState.PENDING, ActionState.SENT):
        raise _illegal(action, ActionState.RECEIVED)
    action.state = ActionState.RECEIVED
    action.received_at = timezone.now()
    action.save(update_fields=["state", "received_at"])
    _audit_action(action, ProcessorAuditAction.ACTION_RECEIVED)
    return action


@transaction.atomic
def processor_action_complete(
    *, processor: Processor, public_id: str, result: str
) -> ProcessorAction:
    """The processor carried the request out. Saying so again changes nothing."""
    result = _clean_text(result, field="result", max_length=RESULT_MAX_LENGTH)
    action = _locked_action(processor, public_id)
    if action.state == ActionState.COMPLETED:
        return action
    if action.state not in OPEN_STATES:
        raise _illegal(action, ActionState.COMPLETED)
    now = timezone.now()
    action.state = ActionState.COMPLETED
    action.received_at = action.received_at or now
    action.closed_at = now
    action.result = result
    _settle(action, ProcessorAuditAction.ACTION_COMPLETED)
    return action


@transaction.atomic
def processor_action_refuse(
    *, processor: Processor, public_id: str, reason: str
) -> ProcessorAction:
    """The processor will not carry the request out; staff must handle it."""
    reason = _clean_text(reason, field="reason", max_length=REASON_MAX_LENGTH)
    action = _locked_action(processor, public_id)
    if action.state == ActionState.REFUSED:
        return action
    if action.state not in OPEN_STATES:
        raise _illegal(action, ActionState.REFUSED)
    now = timezone.now()
    action.state = ActionState.REFUSED
    action.received_at = action.received_at or now
    action.closed_at = now
    action.reason = reason
    action.save(update_fields=["state", "received_at", "closed_at", "reason"])
    _audit_action(action, ProcessorAuditAction.ACTION_REFUSED)
    return action


@transaction.atomic
def processor_action_override(*, action: ProcessorAction, actor, reason: str) -> ProcessorAction:
    """Staff settle an action the processor has not completed, with the reason recorded
    (e.g. the processor confirmed by other means, or holds no data about the person)."""
    reason = _clean_text(reason, field="reason", max_length=REASON_MAX_LENGTH)
    action = ProcessorAction.objects.select_for_update().get(pk=action.pk)
    if action.state in SETTLED_STATES:
        raise _illegal(action, ActionState.OVERRIDDEN)
    before = action.state
    action.state = ActionState.OVERRIDDEN
    action.closed_at = timezone.now()
    action.reason = reason
    action.overridden_by_id = actor.pk
    _settle(action, ProcessorAuditAction.ACTION_OVERRIDDEN, actor=actor, metadata={"from": before})
    return action


def _settle(action: ProcessorAction, what: str, *, actor=None, metadata=None) -> None:
    # Identifiers are no longer needed once nothing more is asked of the processor.
    action.identifiers = ""
    action.save()
    _audit_action(action, what, actor=actor, metadata=metadata)
    if action.privacy_request_id is None:
        return
    left = ProcessorAction.objects.for_request(action.privacy_request_id).outstanding()
    if not left.exists():
        for hook in PROCESSOR_ACTIONS_SETTLED_HOOKS:
            hook(privacy_request_id=action.privacy_request_id)


def processor_actions_cancel(*, privacy_request_id=None, deletion_id=None) -> int:
    """Cancel the open actions of a withdrawn request or a cancelled deletion, in the
    caller's transaction. Processors already told get a cancellation message."""
    if privacy_request_id is None and deletion_id is None:
        return 0
    actions = ProcessorAction.objects.select_for_update().filter(state__in=OPEN_STATES)
    if privacy_request_id is not None:
        actions = actions.filter(privacy_request_id=privacy_request_id)
    else:
        actions = actions.filter(deletion_id=deletion_id)
    count = 0
    for action in actions.select_related("processor"):
        was_sent = action.state != ActionState.PENDING
        action.state = ActionState.CANCELLED
        action.closed_at = timezone.now()
        action.identifiers = ""
        action.save()
        _audit_action(action, ProcessorAuditAction.ACTION_CANCELLED)
        if was_sent:
            processor_action_send(action=action)
        count += 1
    return count


def processor_actions_release_for_deletion(*, deletion_id: int) -> int:
    """Send the erasure actions held back for an account deletion (its job runs now)."""
    count = 0
    held = ProcessorAction.objects.select_for_update().filter(
        deletion_id=deletion_id, hold_until_deletion=True, state=ActionState.PENDING
    )
    for action in held.select_related("processor"):
        action.hold_until_deletion = False
        action.save(update_fields=["hold_until_deletion"])
        count += processor_action_send(action=action)
    return count


def processor_actions_for_account_deletion(
    *, user_id: int, deletion_id: int, limit: int
) -> tuple[dict[str, int], bool]:
    """Carry an account deletion's erasure to the processors; a deletion step.

    Runs before the account's data is deleted, so the identifiers are still there.
    Actions created for the privacy request that asked for this deletion were held
    back during the grace period; they are sent now. Otherwise the erasure actions are
    created here. Safe to run again: a deletion with actions gets no new ones.
    """
    from accounts.models import User

    counts: dict[str, int] = {}
    if ProcessorAction.objects.filter(deletion_id=deletion_id).exists():
        sent = processor_actions_release_for_deletion(deletion_id=deletion_id)
        if sent:
            counts["Processors told to erase"] = sent
        return counts, True
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        return counts, True
    actions = processor_actions_dispatch(
        kind=ProcessorRequestKind.ERASURE,
        identifiers=processor_subject_identifiers(user_id=user_id, email=user.email),
        deletion_id=deletion_id,
        subject_user_id=user_id,
    )
    if actions:
        counts["Processors told to erase"] = len(actions)
    return counts, True


def processor_actions_summary(*, deletion_id: int) -> list[dict]:
    """Each processor and the state of its erasure, for the deletion receipt."""
    return [
        {"processor": action.processor.name, "state": action.get_state_display()}
        for action in ProcessorAction.objects.filter(deletion_id=deletion_id)
        .select_related("processor")
        .order_by("processor__name")
    ]


# ---------------------------------------------------------------------------- reminders


def processor_actions_remind(*, now=None) -> int:
    """Send a reminder for every action a processor has left pending or received for
    longer than PROCESSOR_REMINDER_AFTER_HOURS since it was sent or last reminded."""
    now = now or timezone.now()
    after = timedelta(hours=int(settings.PROCESSOR_REMINDER_AFTER_HOURS))
    due = ProcessorAction.objects.filter(
        state__in=(ActionState.SENT, ActionState.RECEIVED), sent_at__lt=now - after
    ).filter(Q(last_reminded_at__isnull=True) | Q(last_reminded_at__lt=now - after))
    reminded = 0
    for pk in due.order_by("pk").values_list("pk", flat=True)[:1000]:
        reminded += _remind(pk, now=now, after=after)
    return reminded


@transaction.atomic
def _remind(pk: int, *, now, after) -> int:
    # Re-checked under the lock: two beat runs never remind twice.
    action = (
        ProcessorAction.objects.select_for_update()
        .select_related("processor")
        .filter(pk=pk, state__in=(ActionState.SENT, ActionState.RECEIVED))
        .filter(Q(last_reminded_at__isnull=True) | Q(last_reminded_at__lt=now - after))
        .first()
    )
    if action is None:
        return 0
    action.reminders_sent += 1
    action.last_reminded_at = now
    if not processor_action_send(action=action, reminder=True):
        return 0  # nothing was sent, so nothing is counted
    action.save(update_fields=["reminders_sent", "last_reminded_at"])
    _audit_action(
        action, ProcessorAuditAction.ACTION_REMINDED, metadata={"reminder": action.reminders_sent}
    )
    return 1
