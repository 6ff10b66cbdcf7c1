"""The tamper-evident audit log: append, hash, checkpoint, verify, erase personal data.

Each event's `entry_hash` is HMAC-SHA256, under a key of AUDIT_CHAIN_KEYS, over the
previous event's hash, the key id and the event's own canonical content (personal fields
excluded). Without the key nobody can recompute the chain after editing or deleting an
event. Events chained before the chain was keyed keep their plain SHA-256 and the key id
"legacy"; they may only form the chain's beginning.

A keyed chain still links after its newest events are deleted. Checkpoints record the
head (last event id, event count, hash) in a table of their own, sealed and chained
with the same key, and on the `console.audit.checkpoint` logger, so a copy lives outside
the database. Beat writes one every minute; a burst of AUDIT_CHECKPOINT_EVERY events
writes one when it commits.

Appends take a transaction-scoped lock so the chain never forks; the database refuses
updates and deletes (migrations 0002 and 0007).

The personal fields (email, IP address, user agent) stay outside the hash: they must be
erasable, and the encrypted ones are re-sealed when encryption keys rotate, so hashing
either their plaintext or their ciphertext would break the chain on erasure.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from accounts import request_context
from accounts.crypto import LEGACY_CHAIN_KID, DecryptionError, get_chain_keyring
from accounts.models import AuditCheckpoint, AuditEvent

checkpoint_logger = logging.getLogger("console.audit.checkpoint")

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
    SESSIONS_ENDED_BY_STAFF = "account.sessions_ended_by_staff"
    USER_DEACTIVATED = "account.deactivated"
    USER_REACTIVATED = "account.reactivated"
    STAFF_ROLES_CHANGED = "account.staff_roles_changed"
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
    WEBHOOK_ENDPOINT_CREATED = "webhook.endpoint_created"
    WEBHOOK_ENDPOINT_UPDATED = "webhook.endpoint_updated"
    WEBHOOK_ENDPOINT_DELETED = "webhook.endpoint_deleted"
    WEBHOOK_ENDPOINT_DISABLED = "webhook.endpoint_disabled"
    WEBHOOK_SECRET_ROTATED = "webhook.secret_rotated"
    WEBHOOK_MESSAGE_RESENT = "webhook.message_resent"

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


def chain_hash(prev_hash: str, content: bytes, *, key_id: str = LEGACY_CHAIN_KID) -> str:
    """Link `content` to `prev_hash` under the chain key `key_id`.

    Raise DecryptionError when the key is not configured.
    """
    if key_id == LEGACY_CHAIN_KID:
        return hashlib.sha256(prev_hash.encode("ascii") + b"\n" + content).hexdigest()
    key = get_chain_keyring().key(key_id)
    message = b"audit-event\n" + key_id.encode("ascii") + b"\n" + prev_hash.encode("ascii")
    return hmac.new(key, message + b"\n" + content, hashlib.sha256).hexdigest()


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
        key_id=event.chain_key_id,
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

    key_id = get_chain_keyring().primary_kid
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
        key_id=key_id,
    )
    if actor_email is None:
        actor_email = getattr(actor, "email", "") or ""
    event = AuditEvent.objects.create(
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
        chain_key_id=key_id,
        # Nothing to keep is stored as nothing, not as an encrypted empty string.
        actor_email=actor_email or None,
        ip_address=ip_address if ip_address is not None else ctx.ip_address,
        user_agent=(user_agent if user_agent is not None else ctx.user_agent)[:512],
    )
    _checkpoint_after_burst(event.id)
    return event


def _checkpoint_after_burst(event_id: int) -> None:
    every = settings.AUDIT_CHECKPOINT_EVERY
    if every <= 0:
        return
    covered = (
        AuditCheckpoint.objects.order_by("-id").values_list("last_event_id", flat=True).first()
    )
    if covered is None:  # No checkpoint yet: count from the chain's first event.
        first = AuditEvent.objects.order_by("id").values_list("id", flat=True).first()
        covered = (first or event_id) - 1
    # Ids can skip (a rolled-back append), so this errs towards checkpointing early.
    if event_id - covered >= every:
        transaction.on_commit(audit_checkpoint_write, robust=True)


def checkpoint_seal(
    *,
    prev_seal: str,
    key_id: str,
    created_at: datetime,
    last_event_id: int,
    event_count: int,
    head_hash: str,
) -> str:
    """Seal a checkpoint with HMAC-SHA256 under the chain key, chained to the previous seal."""
    key = get_chain_keyring().key(key_id)
    message = "\n".join(
        [
            "audit-checkpoint",
            key_id,
            prev_seal,
            created_at.astimezone(UTC).isoformat(timespec="microseconds"),
            str(last_event_id),
            str(event_count),
            head_hash,
        ]
    ).encode("ascii")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def checkpoint_record(checkpoint: AuditCheckpoint) -> dict:
    """The checkpoint as an outside system keeps it (and `audit_verify --expect` reads it)."""
    return {
        "checkpoint_id": checkpoint.id,
        "created_at": checkpoint.created_at.astimezone(UTC).isoformat(timespec="microseconds"),
        "last_event_id": checkpoint.last_event_id,
        "event_count": checkpoint.event_count,
        "head_hash": checkpoint.head_hash,
        "key_id": checkpoint.key_id,
        "seal": checkpoint.seal,
    }


@transaction.atomic
def audit_checkpoint_write() -> AuditCheckpoint:
    """Record the chain's head now, in the checkpoint table and on the checkpoint logger.

    A new row is written only when events were added since the last checkpoint; the log
    line is written every time, so an outside system also sees that the log is alive.
    """
    _lock_chain()
    previous = AuditCheckpoint.objects.order_by("-id").first()
    after_id = previous.last_event_id if previous else 0
    head = (
        AuditEvent.objects.filter(id__gt=after_id)
        .order_by("-id")
        .values_list("id", "entry_hash")
        .first()
    )
    if previous is not None and head is None:
        checkpoint = previous
    else:
        added = AuditEvent.objects.filter(id__gt=after_id).count()
        key_id = get_chain_keyring().primary_kid
        created_at = timezone.now()
        last_event_id, head_hash = head if head else (0, GENESIS_HASH)
        event_count = (previous.event_count if previous else 0) + added
        prev_seal = previous.seal if previous else GENESIS_HASH
        checkpoint = AuditCheckpoint.objects.create(
            created_at=created_at,
            last_event_id=last_event_id,
            event_count=event_count,
            head_hash=head_hash,
            key_id=key_id,
            prev_seal=prev_seal,
            seal=checkpoint_seal(
                prev_seal=prev_seal,
                key_id=key_id,
                created_at=created_at,
                last_event_id=last_event_id,
                event_count=event_count,
                head_hash=head_hash,
            ),
        )
    checkpoint_logger.info(
        "audit checkpoint %s", json.dumps(checkpoint_record(checkpoint), sort_keys=True)
    )
    return checkpoint


@dataclass(frozen=True)
class ChainBreak:
    """Where the log stops being trustworthy: an event, a checkpoint, or both."""

    event_id: int | None
    reason: str
    checkpoint_id: int | None = None

    def where(self) -> str:
        parts = []
        if self.event_id is not None:
            parts.append(f"event {self.event_id}")
        if self.checkpoint_id is not None:
            parts.append(f"checkpoint {self.checkpoint_id}")
        return " / ".join(parts) or "the chain"


def _checkpoint_seal_of(record: dict) -> str:
    return checkpoint_seal(
        prev_seal=record["prev_seal"],
        key_id=record["key_id"],
        created_at=datetime.fromisoformat(record["created_at"]),
        last_event_id=record["last_event_id"],
        event_count=record["event_count"],
        head_hash=record["head_hash"],
    )


def _verify_checkpoints(expected: list[dict]) -> tuple[list[dict], ChainBreak | None]:
    """Check the checkpoint table's own chain, and that it still holds every outside copy."""
    stored = {}
    prev_seal = GENESIS_HASH
    prev = None
    for cp in AuditCheckpoint.objects.order_by("id").iterator(chunk_size=2000):
        record = {**checkpoint_record(cp), "prev_seal": cp.prev_seal}
        if cp.prev_seal != prev_seal:
            return [], ChainBreak(
                None,
                "does not follow the checkpoint before it"
                + (f" ({prev['checkpoint_id']})" if prev else " (it is not the first)")
                + ": a checkpoint between them was deleted",
                cp.id,
            )
        try:
            sealed = _checkpoint_seal_of(record)
        except DecryptionError as exc:
            return [], ChainBreak(None, str(exc), cp.id)
        if not hmac.compare_digest(sealed, cp.seal):
            return [], ChainBreak(None, "content does not match its seal (edited)", cp.id)
        if prev and (
            cp.last_event_id < prev["last_event_id"] or cp.event_count < prev["event_count"]
        ):
            return [], ChainBreak(None, "goes backwards from the checkpoint before it", cp.id)
        stored[cp.id] = record
        prev_seal, prev = cp.seal, record
    for outside in expected:
        cp_id = outside.get("checkpoint_id")
        mine = stored.get(cp_id)
        if mine is None:
            return [], ChainBreak(
                outside.get("last_event_id"),
                "held outside the database but missing from the checkpoint table "
                "(deleted, with the events it covered if the chain ends before it)",
                cp_id,
            )
        if any(mine.get(k) != outside.get(k) for k in outside if k != "prev_seal"):
            return [], ChainBreak(
                outside.get("last_event_id"),
                "differs from the copy held outside the database (rewritten)",
                cp_id,
            )
    return sorted(stored.values(), key=lambda r: (r["last_event_id"], r["checkpoint_id"])), None


def audit_chain_verify(
    *, batch_size: int = 5000, expected: list[dict] | None = None
) -> tuple[int, ChainBreak | None]:
    """Walk the chain in id order against the checkpoints; return (events checked, first break).

    `expected` holds checkpoint records kept outside the database (the checkpoint log
    lines); each must still be in the table, unchanged.
    """
    checkpoints, broken = _verify_checkpoints(expected or [])
    if broken is not None:
        return 0, broken
    pending = iter(checkpoints)
    cp = next(pending, None)
    expected_prev = GENESIS_HASH
    checked = 0
    last_id = 0
    keyed = False
    for event in _iter_events(batch_size):
        while cp is not None and cp["last_event_id"] < event.id:
            if cp["last_event_id"] != last_id or cp["event_count"] != checked:
                return checked, _checkpoint_break(cp, last_id, checked, tail=False)
            cp = next(pending, None)
        if event.prev_hash != expected_prev:
            return checked, ChainBreak(
                event.id,
                "previous-hash link does not match the preceding event "
                "(an event before it was deleted, inserted or reordered)",
            )
        if event.chain_key_id == LEGACY_CHAIN_KID and keyed:
            return checked, ChainBreak(
                event.id, "unkeyed hash after keyed events (rewritten without the key)"
            )
        keyed = keyed or event.chain_key_id != LEGACY_CHAIN_KID
        try:
            recomputed = event_hash(event)
        except DecryptionError as exc:
            return checked, ChainBreak(event.id, str(exc))
        if not hmac.compare_digest(recomputed, event.entry_hash):
            return checked, ChainBreak(event.id, "content does not match its hash (edited)")
        expected_prev = event.entry_hash
        checked += 1
        last_id = event.id
        while cp is not None and cp["last_event_id"] == event.id:
            if cp["event_count"] != checked or cp["head_hash"] != event.entry_hash:
                return checked, _checkpoint_break(cp, last_id, checked, tail=False)
            cp = next(pending, None)
    while cp is not None:
        if cp["last_event_id"] != last_id or cp["event_count"] != checked:
            return checked, _checkpoint_break(cp, last_id, checked, tail=True)
        cp = next(pending, None)
    return checked, None


def _checkpoint_break(cp: dict, last_id: int, checked: int, *, tail: bool) -> ChainBreak:
    recorded = (
        f"recorded {cp['event_count']} events up to event {cp['last_event_id']}, "
        f"found {checked} up to event {last_id}"
    )
    if tail:
        return ChainBreak(
            cp["last_event_id"],
            f"missing tail: the chain ends at event {last_id} but the checkpoint {recorded}: "
            "the newest events were deleted",
            cp["checkpoint_id"],
        )
    if cp["last_event_id"] != last_id:
        reason = f"missing event: the checkpoint {recorded}: its head event was deleted"
    else:
        reason = f"the checkpoint {recorded}: events before it were deleted or rewritten"
    return ChainBreak(cp["last_event_id"], reason, cp["checkpoint_id"])


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
        "chain_key_id",
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
    erased = events.update(ip_address=None, user_agent="", actor_email=None)
    return erased, last


def audit_erase_personal_data(*, user_id: int) -> int:
    """Blank IP, user agent and email on every event by or about a user; the chain holds.

    For a few events; the deletion job uses `audit_erase_personal_data_batch`.
    """
    events = AuditEvent.objects.filter(Q(actor_id=user_id) | Q(subject_user_id=user_id))
    return events.update(ip_address=None, user_agent="", actor_email=None)
