"""The tamper-evident audit log: append, hash, verify, erase personal data.

Each event's `entry_hash` is SHA-256 over the previous event's hash and the event's own
canonical content (personal fields excluded). Appends take a transaction-scoped lock so
the chain never forks; the database refuses updates and deletes (migration 0002).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from accounts import request_context
from accounts.models import AuditEvent

GENESIS_HASH = "0" * 64
# Arbitrary constant naming the advisory lock that serialises appends on PostgreSQL.
_CHAIN_LOCK_ID = 7_140_531_117


class Action:
    """Every audited action, in one place, so filters and tests can list them."""

    SIGNUP = "account.signup"
    LOGIN = "account.login"
    LOGIN_FAILED = "account.login_failed"
    LOGOUT = "account.logout"
    PASSWORD_CHANGED = "account.password_changed"
    PASSWORD_RESET = "account.password_reset"
    EMAIL_ADDED = "account.email_added"
    EMAIL_CHANGED = "account.email_changed"
    EMAIL_CONFIRMED = "account.email_confirmed"
    EMAIL_REMOVED = "account.email_removed"
    MFA_ACTIVATED = "account.mfa_activated"
    MFA_DEACTIVATED = "account.mfa_deactivated"
    MFA_RECOVERY_CODES_GENERATED = "account.mfa_recovery_codes_generated"
    PROFILE_UPDATED = "account.profile_updated"
    PREFERENCES_UPDATED = "account.preferences_updated"
    SESSION_ENDED = "account.session_ended"
    USER_DEACTIVATED = "account.deactivated"
    USER_REACTIVATED = "account.reactivated"
    WORKSPACE_CREATED = "workspace.created"
    WORKSPACE_RENAMED = "workspace.renamed"
    WORKSPACE_SETTINGS_UPDATED = "workspace.settings_updated"
    WORKSPACE_DELETED = "workspace.deleted"
    WORKSPACE_TRANSFERRED = "workspace.ownership_transferred"
    INVITATION_SENT = "invitation.sent"
    INVITATION_RESENT = "invitation.resent"
    INVITATION_ACCEPTED = "invitation.accepted"
    INVITATION_REVOKED = "invitation.revoked"
    MEMBER_ROLE_CHANGED = "member.role_changed"
    MEMBER_REMOVED = "member.removed"
    MEMBER_LEFT = "member.left"
    API_KEY_CREATED = "api_key.created"
    API_KEY_UPDATED = "api_key.updated"
    API_KEY_ROTATED = "api_key.rotated"
    API_KEY_REVOKED = "api_key.revoked"
    API_KEY_DELETED = "api_key.deleted"
    API_KEY_LEAK_REPORTED = "api_key.leak_reported"
    API_KEY_EXPIRY_NOTICE_SENT = "api_key.expiry_notice_sent"

    @classmethod
    def all(cls) -> list[str]:
        return sorted(v for k, v in vars(cls).items() if k.isupper() and isinstance(v, str))


SECURITY_ACTION_PREFIXES = ("account.",)


def canonical_content(
    *,
    occurred_at: datetime,
    action: str,
    actor_id: int | None,
    workspace_id,
    subject_user_id: int | None,
    target_type: str,
    target_id: str,
    metadata: dict,
) -> bytes:
    """Serialise the hashed part of an event deterministically."""
    content = {
        "occurred_at": occurred_at.astimezone(UTC).isoformat(timespec="microseconds"),
        "action": action,
        "actor_id": actor_id,
        "workspace_id": str(workspace_id) if workspace_id else None,
        "subject_user_id": subject_user_id,
        "target_type": target_type,
        "target_id": target_id,
        "metadata": metadata,
    }
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def chain_hash(prev_hash: str, content: bytes) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + b"\n" + content).hexdigest()


def event_hash(event: AuditEvent) -> str:
    return chain_hash(
        event.prev_hash,
        canonical_content(
            occurred_at=event.occurred_at,
            action=event.action,
            actor_id=event.actor_id,
            workspace_id=event.workspace_id,
            subject_user_id=event.subject_user_id,
            target_type=event.target_type,
            target_id=event.target_id,
            metadata=event.metadata,
        ),
    )


def _lock_chain() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK_ID])


def _json_roundtrip(metadata: dict) -> dict:
    # Store exactly what will be read back, so the hash recomputes identically.
    return json.loads(json.dumps(metadata, sort_keys=True, default=str))


@transaction.atomic
def audit_record(
    *,
    action: str,
    actor=None,
    workspace=None,
    subject_user=None,
    target=None,
    target_type: str = "",
    target_id: str = "",
    metadata: dict | None = None,
    actor_email: str | None = None,
    ip_address: str | None = None,
    user_agent: str | None = None,
) -> AuditEvent:
    """Append one event to the chain, inside the caller's transaction.

    `metadata` must not hold personal data (emails, IPs, names): it is hashed and can
    never be erased. Put the acting person's email in `actor_email`.
    """
    ctx = request_context.current()
    if target is not None:
        target_type = target_type or target._meta.label_lower
        target_id = target_id or str(target.pk)
    actor_id = getattr(actor, "pk", None) if actor is not None else None
    if subject_user is None and actor_id is not None and action.startswith("account."):
        subject_user = actor
    occurred_at = timezone.now()
    metadata = _json_roundtrip(metadata or {})
    workspace_id = getattr(workspace, "pk", workspace)

    _lock_chain()
    last = AuditEvent.objects.order_by("-id").values_list("entry_hash", flat=True).first()
    prev_hash = last or GENESIS_HASH
    subject_user_id = getattr(subject_user, "pk", subject_user)
    entry_hash = chain_hash(
        prev_hash,
        canonical_content(
            occurred_at=occurred_at,
            action=action,
            actor_id=actor_id,
            workspace_id=workspace_id,
            subject_user_id=subject_user_id,
            target_type=target_type,
            target_id=str(target_id),
            metadata=metadata,
        ),
    )
    if actor_email is None:
        actor_email = getattr(actor, "email", "") or ""
    return AuditEvent.objects.create(
        occurred_at=occurred_at,
        action=action,
        actor_id=actor_id,
        workspace_id=workspace_id,
        subject_user_id=subject_user_id,
        target_type=target_type,
        target_id=str(target_id),
        metadata=metadata,
        prev_hash=prev_hash,
        entry_hash=entry_hash,
        actor_email=actor_email,
        ip_address=ip_address if ip_address is not None else ctx.ip_address,
        user_agent=(user_agent if user_agent is not None else ctx.user_agent)[:512],
    )


@dataclass(frozen=True)
class ChainBreak:
    event_id: int
    reason: str


def audit_chain_verify(*, batch_size: int = 5000) -> tuple[int, ChainBreak | None]:
    """Walk the whole chain in id order; return (events checked, first break or None)."""
    expected_prev = GENESIS_HASH
    checked = 0
    for event in _iter_events(batch_size):
        if event.prev_hash != expected_prev:
            return checked, ChainBreak(
                event.id,
                "previous-hash link does not match the preceding event "
                "(an event before it was deleted, inserted or reordered)",
            )
        if event_hash(event) != event.entry_hash:
            return checked, ChainBreak(event.id, "content does not match its hash (edited)")
        expected_prev = event.entry_hash
        checked += 1
    return checked, None


def _iter_events(batch_size: int) -> Iterator[AuditEvent]:
    last_id = 0
    fields = (
        "id",
        "occurred_at",
        "action",
        "actor_id",
        "workspace_id",
        "subject_user_id",
        "target_type",
        "target_id",
        "metadata",
        "prev_hash",
        "entry_hash",
    )
    while True:
        batch = list(
            AuditEvent.objects.filter(id__gt=last_id).order_by("id").only(*fields)[:batch_size]
        )
        if not batch:
            return
        yield from batch
        last_id = batch[-1].id


def audit_erase_personal_data_batch(
    *, user_id: int, after_id: int, limit: int
) -> tuple[int, int | None]:
    """Erase the personal data of up to `limit` events about a user after `after_id`.

    Return (events erased, id to continue after); None means nothing is left. The
    batch ends at the (limit/2)-th event after `after_id` as actor or as subject,
    whichever comes first: two index-only probes of (actor_id, id) and
    (subject_user_id, id), cheap however large the table or the person's history.
    So a batch holds between limit/2 and limit events, and the update that erases
    them is one range scan of each of those indexes.
    """
    half = max(1, limit // 2)
    after = AuditEvent.objects.filter(id__gt=after_id).order_by("id")
    ends = [
        after.filter(**{field: user_id}).values_list("id", flat=True)[half - 1 : half].first()
        for field in ("actor_id", "subject_user_id")
    ]
    last = min((end for end in ends if end is not None), default=None)
    events = AuditEvent.objects.filter(Q(actor_id=user_id) | Q(subject_user_id=user_id)).filter(
        id__gt=after_id
    )
    if last is not None:
        events = events.filter(id__lte=last)
    erased = events.update(ip_address=None, user_agent="", actor_email="")
    return erased, last


def audit_erase_personal_data(*, user_id: int) -> int:
    """Blank IP, user agent and email on every event by or about a user; the chain holds.

    For a few events; the deletion job uses `audit_erase_personal_data_batch`.
    """
    events = AuditEvent.objects.filter(Q(actor_id=user_id) | Q(subject_user_id=user_id))
    return events.update(ip_address=None, user_agent="", actor_email="")
