"""Writes for API keys. Each service is atomic, checks the actor's rights, records its
audit event in the same transaction, and raises the keys' generation in that transaction
too (verify's caches learn of it on commit)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.audit import Action, audit_record
from accounts.emails import email_enqueue
from accounts.errors import Conflict, DomainError, Forbidden, NotFound
from accounts.models import Membership, User, Workspace
from accounts.permissions import Perm, Role, role_has_permission
from accounts.services import budget_alert_thresholds_clean
from accounts.validators import NAME_UNSAFE_MESSAGE, text_has_unsafe_chars
from accounts.webhooks import events as webhook_events
from accounts.webhooks.services import webhook_event_record
from apikeys.keys import tokens as keys
from apikeys.keys import verification
from apikeys.keys.models import ApiKey
from apikeys.keys.scopes import scopes_beyond, scopes_normalise
from apikeys.keys.tokens import Environment

GRACE_PERIODS = {
    "none": timedelta(0),
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
}
MAX_ALLOWED_IPS = 50
LIMIT_MAX = 10**9
BUDGET_MAX = 10**15
LIMIT_FIELDS = (
    "max_tokens_per_request",
    "requests_per_minute",
    "tokens_per_minute",
    "monthly_token_budget",
)
UPDATABLE_FIELDS = ("name", "scopes", "allowed_ips", *LIMIT_FIELDS, "budget_alert_thresholds")
# The 1-day notice first: a key with less than a day left gets that one only.
EXPIRY_NOTICES = (
    ("expiry_notice_1d_sent_at", timedelta(days=1)),
    ("expiry_notice_7d_sent_at", timedelta(days=7)),
)


# ---------------------------------------------------------------------------- rights


def _membership(workspace_id, actor: User) -> Membership | None:
    if actor is None or not getattr(actor, "is_authenticated", False):
        return None
    return Membership.objects.filter(
        workspace_id=workspace_id, user=actor, workspace__deleted_at__isnull=True
    ).first()


def api_key_can_manage(*, api_key: ApiKey, role: str | None, user_id) -> bool:
    """Return whether a member with `role` may change `api_key`."""
    if role_has_permission(role, Perm.KEYS_MANAGE_ALL):
        return True
    return role_has_permission(role, Perm.KEYS_CREATE) and api_key.created_by_id == user_id


def _require_manage(api_key: ApiKey, actor: User, *, by_staff: bool = False) -> None:
    if by_staff:
        # Staff revoke through the admin; the role that may is the one holding the
        # change permission (Security), checked here too so no other path skips it.
        if not (getattr(actor, "is_staff", False) and actor.has_perm("apikeys.change_apikey")):
            raise NotFound()
        return
    membership = _membership(api_key.workspace_id, actor)
    role = membership.role if membership else None
    if not role_has_permission(role, Perm.KEYS_VIEW):
        raise NotFound()
    if not api_key_can_manage(api_key=api_key, role=role, user_id=actor.pk):
        raise Forbidden("You can only manage keys you created.")


def _locked(api_key: ApiKey) -> ApiKey:
    """Re-read the key under a row lock so concurrent changes serialise."""
    locked = ApiKey.objects.select_for_update().filter(pk=api_key.pk).first()
    if locked is None or locked.deleted_at is not None:
        raise NotFound()
    return locked


# ---------------------------------------------------------------------------- validation


def _clean_name(name) -> str:
    name = (name or "").strip() if isinstance(name, str) else ""
    if not name:
        raise DomainError("A key needs a name.", fields={"name": ["This field is required."]})
    if len(name) > 100:
        raise DomainError("Name is too long.", fields={"name": ["At most 100 characters."]})
    if text_has_unsafe_chars(name):
        raise DomainError(
            "Name contains characters that are not allowed.", fields={"name": [NAME_UNSAFE_MESSAGE]}
        )
    return name


@dataclass(frozen=True)
class KeyAuthority:
    """What a management key calling the REST API holds: it may grant no more."""

    scopes: frozenset[str]
    environment: str


def _check_authority(
    *,
    scopes: list[str],
    environment: str,
    role: str | None,
    via_key: KeyAuthority | None,
) -> None:
    """Refuse a key that would carry more than the person, or the key, acting holds.

    The person's role must allow every scope (a key acts as its creator); a management
    key may only hand out scopes it holds itself, so it can never widen itself or mint
    a wider key, and a development key may not create or change a production key.
    """
    refused = scopes_beyond(scopes, role=role, held=via_key.scopes if via_key else None)
    if refused:
        names = ", ".join(refused)
        raise Forbidden(
            f"You cannot grant these scopes: {names}.",
            fields={"scopes": [f"Not yours to grant: {names}."]},
        )
    if (
        via_key is not None
        and environment == Environment.PRODUCTION
        and via_key.environment != Environment.PRODUCTION
    ):
        raise Forbidden(
            "A development key cannot create or change production keys.",
            fields={"environment": ["Use a production management key or the dashboard."]},
        )


def _actor_role(workspace_id, actor: User) -> str | None:
    membership = _membership(workspace_id, actor)
    return membership.role if membership else None


def _clean_scopes(scopes) -> list[str]:
    if not isinstance(scopes, list | tuple | set | frozenset):
        raise DomainError("Scopes must be a list.", fields={"scopes": ["Must be a list."]})
    try:
        cleaned = scopes_normalise(scopes)
    except (ValueError, TypeError) as exc:
        raise DomainError("Unknown scope.", fields={"scopes": [f"Unknown scope: {exc}."]}) from None
    if not cleaned:
        raise DomainError(
            "Choose at least one scope.", fields={"scopes": ["Choose at least one scope."]}
        )
    return cleaned


def api_key_clean_allowed_ips(values) -> list[str]:
    """Return the CIDR ranges normalised (IPv4 and IPv6); raise DomainError on bad ones."""
    if values is None:
        return []
    if isinstance(values, str):
        values = [part for part in values.replace(",", "\n").split()]
    if not isinstance(values, list | tuple):
        raise DomainError("Allowed IPs must be a list.", fields={"allowed_ips": ["Not a list."]})
    if len(values) > MAX_ALLOWED_IPS:
        raise DomainError(
            "Too many IP ranges.", fields={"allowed_ips": [f"At most {MAX_ALLOWED_IPS}."]}
        )
    cleaned: list[str] = []
    for value in values:
        try:
            network = ipaddress.ip_network(str(value).strip(), strict=False)
        except ValueError:
            raise DomainError(
                "Not an IP range.",
                fields={"allowed_ips": [f"{str(value)[:60]!r} is not an IPv4 or IPv6 range."]},
            ) from None
        if str(network) not in cleaned:
            cleaned.append(str(network))
    return cleaned


def _clean_limit(field: str, value) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise DomainError("Limits must be whole numbers.", fields={field: ["A whole number."]})
    ceiling = BUDGET_MAX if field == "monthly_token_budget" else LIMIT_MAX
    if not 1 <= value <= ceiling:
        raise DomainError(
            "Limit out of range.", fields={field: [f"Between 1 and {ceiling}, or empty."]}
        )
    return value


def _clean_expiry(workspace: Workspace, expires_at: datetime | None, now: datetime):
    lifetime = workspace.max_key_lifetime_days
    if expires_at is None:
        return now + timedelta(days=lifetime) if lifetime else None
    if timezone.is_naive(expires_at):
        raise DomainError("Expiry needs a time zone.", fields={"expires_at": ["Add a time zone."]})
    if expires_at <= now:
        raise DomainError(
            "Expiry must be in the future.", fields={"expires_at": ["In the future."]}
        )
    if lifetime and expires_at > now + timedelta(days=lifetime):
        raise Conflict(
            "Expiry is beyond the workspace's maximum key lifetime.",
            fields={"expires_at": [f"At most {lifetime} days from now."]},
        )
    return expires_at


# ---------------------------------------------------------------------------- cache


def _generations_raise(queryset) -> None:
    """Raise these keys' generation in this transaction; tell verify's caches on commit.

    The row holds the generation, so it commits or rolls back with the change; Redis
    gets a copy after commit, raised to the row's value and never lowered, and each
    process forgets its own cached record.
    """
    with transaction.atomic():
        pks = list(queryset.values_list("pk", flat=True))
        if not pks:
            return
        ApiKey.objects.filter(pk__in=pks).update(generation=F("generation") + 1)
        # The rows stay locked by the update until commit: these are the values to copy.
        generations = dict(ApiKey.objects.filter(pk__in=pks).values_list("public_id", "generation"))

        def publish():
            verification.store().bump(generations)
            for public_id in generations:
                verification.local_cache_clear(public_id)

        transaction.on_commit(publish)


def api_key_cache_invalidate(*, public_ids) -> None:
    """Make every process refetch these keys on their next verify.

    Call it inside the transaction that makes the change: the generation is raised there.
    """
    public_ids = [pid for pid in public_ids if pid]
    if not public_ids:
        return
    _generations_raise(ApiKey.objects.filter(public_id__in=public_ids))


def api_key_cache_invalidate_workspace(workspace_id) -> None:
    """Invalidate every key of a workspace (settings, ownership or deletion changed)."""
    _generations_raise(ApiKey.objects.filter(workspace_id=workspace_id))


def api_key_cache_invalidate_for_user(user_id) -> None:
    """Invalidate the keys of every workspace the user owns (privacy settings changed)."""
    _generations_raise(
        ApiKey.objects.filter(
            workspace__memberships__user_id=user_id, workspace__memberships__role=Role.OWNER
        )
    )


def workspace_hook_invalidate(*, workspace: Workspace, **_kwargs) -> None:
    """React to workspace settings changes and deletion (registered in apps.ready)."""
    api_key_cache_invalidate_workspace(workspace.pk)


# ---------------------------------------------------------------------------- writes


def _audit(action: str, *, api_key: ApiKey, actor, metadata: dict | None = None) -> None:
    audit_record(
        action=action,
        actor=actor,
        workspace=api_key.workspace_id,
        target_type="apikeys.apikey",
        target_id=api_key.public_id,
        metadata={"name": api_key.name, "environment": api_key.environment, **(metadata or {})},
    )


def _event(event_type: str, *, api_key: ApiKey, **data) -> None:
    """Tell the workspace's webhook endpoints, in the transaction of the change."""
    webhook_event_record(
        workspace=api_key.workspace_id,
        event_type=event_type,
        data={
            "key_id": api_key.public_id,
            "name": api_key.name,
            "environment": api_key.environment,
            **data,
        },
    )


@transaction.atomic
def api_key_create(
    *,
    workspace: Workspace,
    actor: User,
    name: str,
    environment: str,
    scopes: list[str],
    expires_at: datetime | None = None,
    allowed_ips: list[str] | None = None,
    max_tokens_per_request: int | None = None,
    requests_per_minute: int | None = None,
    tokens_per_minute: int | None = None,
    monthly_token_budget: int | None = None,
    via_key: KeyAuthority | None = None,
) -> tuple[ApiKey, str]:
    """Create a key; return it with the full key string, which is never shown again.

    `via_key` is the management key making the call, if one is: the new key may carry
    only scopes it holds (see `_check_authority`).
    """
    membership = _membership(workspace.pk, actor)
    if membership is None or not role_has_permission(membership.role, Perm.KEYS_VIEW):
        raise NotFound()
    if not role_has_permission(membership.role, Perm.KEYS_CREATE):
        raise Forbidden("Your role cannot create keys.")
    if environment not in Environment.values:
        raise DomainError(
            "Unknown environment.", fields={"environment": ["development or production."]}
        )
    scopes = _clean_scopes(scopes)
    _check_authority(scopes=scopes, environment=environment, role=membership.role, via_key=via_key)
    now = timezone.now()
    limits = {
        "max_tokens_per_request": _clean_limit("max_tokens_per_request", max_tokens_per_request),
        "requests_per_minute": _clean_limit("requests_per_minute", requests_per_minute),
        "tokens_per_minute": _clean_limit("tokens_per_minute", tokens_per_minute),
        "monthly_token_budget": _clean_limit("monthly_token_budget", monthly_token_budget),
    }
    public_id = keys.new_public_id()
    secret = keys.new_secret()
    full_key = keys.assemble(environment=environment, public_id=public_id, secret=secret)
    digest, pepper_id = keys.secret_hash(secret)
    api_key = ApiKey.objects.create(
        workspace=workspace,
        public_id=public_id,
        name=_clean_name(name),
        environment=environment,
        scopes=scopes,
        created_by=actor,
        created_at=now,
        updated_at=now,
        expires_at=_clean_expiry(workspace, expires_at, now),
        secret_hash=digest,
        pepper_id=pepper_id,
        last_four=full_key[-4:],
        allowed_ips=api_key_clean_allowed_ips(allowed_ips),
        **limits,
    )
    _audit(
        Action.API_KEY_CREATED,
        api_key=api_key,
        actor=actor,
        metadata={
            "scopes": api_key.scopes,
            "expires_at": api_key.expires_at.isoformat() if api_key.expires_at else None,
        },
    )
    _event(
        webhook_events.API_KEY_CREATED,
        api_key=api_key,
        scopes=api_key.scopes,
        expires_at=api_key.expires_at.isoformat() if api_key.expires_at else None,
        created_by=getattr(actor, "pk", None),
    )
    api_key_cache_invalidate(public_ids=[public_id])
    return api_key, full_key


@transaction.atomic
def api_key_update(
    *, api_key: ApiKey, actor: User, via_key: KeyAuthority | None = None, **changes
) -> ApiKey:
    """Change name, scopes, allowed IPs and limits; the next verify sees them.

    New scopes must be within the acting person's role and, through a management key,
    within that key's own scopes; a management key may not change a key wider than
    itself at all.
    """
    _require_manage(api_key, actor)
    unknown = set(changes) - set(UPDATABLE_FIELDS)
    if unknown:
        raise DomainError(f"Cannot change: {', '.join(sorted(unknown))}.")
    api_key = _locked(api_key)
    cleaned = {}
    for field_name, value in changes.items():
        if field_name == "name":
            cleaned[field_name] = _clean_name(value)
        elif field_name == "scopes":
            cleaned[field_name] = _clean_scopes(value)
        elif field_name == "allowed_ips":
            cleaned[field_name] = api_key_clean_allowed_ips(value)
        elif field_name == "budget_alert_thresholds":
            cleaned[field_name] = budget_alert_thresholds_clean(value)
        else:
            cleaned[field_name] = _clean_limit(field_name, value)
    if "scopes" in cleaned or via_key is not None:
        _check_authority(
            scopes=cleaned.get("scopes", api_key.scopes),
            environment=api_key.environment,
            role=_actor_role(api_key.workspace_id, actor),
            via_key=via_key,
        )
    changed = {
        name: {"from": getattr(api_key, name), "to": value}
        for name, value in cleaned.items()
        if getattr(api_key, name) != value
    }
    if not changed:
        return api_key
    for name in changed:
        setattr(api_key, name, cleaned[name])
    api_key.updated_at = timezone.now()
    api_key.save(update_fields=[*changed, "updated_at"])
    # IP ranges can be personal data; the audit log (never erasable) records only counts.
    if "allowed_ips" in changed:
        changed["allowed_ips"] = {
            "from": len(changed["allowed_ips"]["from"]),
            "to": len(changed["allowed_ips"]["to"]),
        }
    _audit(Action.API_KEY_UPDATED, api_key=api_key, actor=actor, metadata={"changes": changed})
    api_key_cache_invalidate(public_ids=[api_key.public_id])
    return api_key


@transaction.atomic
def api_key_rotate(
    *, api_key: ApiKey, actor: User, grace: str, via_key: KeyAuthority | None = None
) -> tuple[ApiKey, str]:
    """Issue a new secret; the old one keeps verifying for the grace period chosen.

    The new secret is the key's whole authority, so whoever rotates it must hold every
    scope it carries (role, and the management key if one is calling).
    """
    _require_manage(api_key, actor)
    if grace not in GRACE_PERIODS:
        raise DomainError(
            "Unknown grace period.", fields={"grace": [f"One of {', '.join(GRACE_PERIODS)}."]}
        )
    api_key = _locked(api_key)
    now = timezone.now()
    if api_key.revoked_at is not None or (api_key.expires_at and api_key.expires_at <= now):
        raise Conflict("Only an active key can be rotated.")
    _check_authority(
        scopes=api_key.scopes,
        environment=api_key.environment,
        role=_actor_role(api_key.workspace_id, actor),
        via_key=via_key,
    )
    secret = keys.new_secret()
    full_key = keys.assemble(
        environment=api_key.environment, public_id=api_key.public_id, secret=secret
    )
    digest, pepper_id = keys.secret_hash(secret)
    period = GRACE_PERIODS[grace]
    if period:
        api_key.previous_secret_hash = api_key.secret_hash
        api_key.previous_pepper_id = api_key.pepper_id
        api_key.previous_last_four = api_key.last_four
        api_key.previous_secret_expires_at = now + period
    else:
        api_key.previous_secret_hash = ""
        api_key.previous_pepper_id = ""
        api_key.previous_last_four = ""
        api_key.previous_secret_expires_at = None
    api_key.previous_secret_last_used_at = None
    api_key.secret_hash = digest
    api_key.pepper_id = pepper_id
    api_key.last_four = full_key[-4:]
    api_key.rotated_at = now
    api_key.updated_at = now
    api_key.save()
    _audit(Action.API_KEY_ROTATED, api_key=api_key, actor=actor, metadata={"grace": grace})
    _event(
        webhook_events.API_KEY_ROTATED,
        api_key=api_key,
        previous_secret_expires_at=(
            api_key.previous_secret_expires_at.isoformat()
            if api_key.previous_secret_expires_at
            else None
        ),
    )
    api_key_cache_invalidate(public_ids=[api_key.public_id])
    return api_key, full_key


def _revoke(api_key: ApiKey, *, reason: str, now: datetime) -> bool:
    if api_key.revoked_at is not None:
        return False
    api_key.revoked_at = now
    api_key.revoked_reason = reason
    # A revoked key's old secret must not outlive it.
    api_key.previous_secret_expires_at = None
    api_key.updated_at = now
    return True


@transaction.atomic
def api_key_revoke(
    *, api_key: ApiKey, actor: User, reason: str = "revoked", by_staff: bool = False
) -> ApiKey:
    """Revoke at once: the very next verify fails in every process."""
    _require_manage(api_key, actor, by_staff=by_staff)
    api_key = _locked(api_key)
    if _revoke(api_key, reason=reason[:64], now=timezone.now()):
        api_key.save(
            update_fields=[
                "revoked_at",
                "revoked_reason",
                "previous_secret_expires_at",
                "updated_at",
            ]
        )
        _audit(
            Action.API_KEY_REVOKED,
            api_key=api_key,
            actor=actor,
            metadata={"reason": api_key.revoked_reason, "by_staff": by_staff},
        )
        _event(webhook_events.API_KEY_REVOKED, api_key=api_key, reason=api_key.revoked_reason)
        api_key_cache_invalidate(public_ids=[api_key.public_id])
    return api_key


@transaction.atomic
def api_key_delete(*, api_key: ApiKey, actor: User) -> None:
    """Revoke and hide the key; the audit log keeps it."""
    _require_manage(api_key, actor)
    api_key = _locked(api_key)
    now = timezone.now()
    revoked = _revoke(api_key, reason="deleted", now=now)
    api_key.deleted_at = now
    api_key.save()
    _audit(Action.API_KEY_DELETED, api_key=api_key, actor=actor)
    if revoked:
        _event(webhook_events.API_KEY_REVOKED, api_key=api_key, reason="deleted")
    api_key_cache_invalidate(public_ids=[api_key.public_id])


@transaction.atomic
def api_key_report_leaked(
    *, key: str, source: str = "", actor: User | None = None
) -> ApiKey | None:
    """Revoke a reported key if it is real and active, and tell the workspace owners.

    Return the key revoked, or None. The public endpoint answers every report the same
    whatever this returns; staff filing a report they received (`actor`) see the outcome.
    """
    try:
        parsed = keys.parse(key)
    except keys.MalformedKey:
        return None
    api_key = (
        ApiKey.objects.select_for_update()
        .select_related("workspace")
        .filter(public_id=parsed.public_id, environment=parsed.environment)
        .first()
    )
    if api_key is None:
        return None
    now = timezone.now()
    matches_current = keys.secret_matches(
        parsed.secret, stored_hash=api_key.secret_hash, pepper_id=api_key.pepper_id
    )
    matches_previous = (
        api_key.previous_secret_expires_at is not None
        and api_key.previous_secret_expires_at > now
        and keys.secret_matches(
            parsed.secret,
            stored_hash=api_key.previous_secret_hash,
            pepper_id=api_key.previous_pepper_id,
        )
    )
    if not (matches_current or matches_previous):
        return None
    if not _revoke(api_key, reason="leaked", now=now):
        return None
    api_key.save(
        update_fields=["revoked_at", "revoked_reason", "previous_secret_expires_at", "updated_at"]
    )
    _audit(
        Action.API_KEY_LEAK_REPORTED,
        api_key=api_key,
        actor=actor,
        metadata={"source": (source or "")[:100], "revoked": True, "by_staff": actor is not None},
    )
    _event(
        webhook_events.API_KEY_LEAK_REPORTED,
        api_key=api_key,
        source=(source or "")[:100],
        revoked=True,
    )
    api_key_cache_invalidate(public_ids=[api_key.public_id])
    owners = list(
        User.objects.filter(
            memberships__workspace=api_key.workspace, memberships__role=Role.OWNER, is_active=True
        ).values_list("email", flat=True)
    )
    if owners:
        email_enqueue(
            to=owners,
            template="apikeys/email/key_leaked",
            context={
                "workspace_name": api_key.workspace.name,
                "key_name": api_key.name,
                "key_display": keys.display(
                    environment=api_key.environment,
                    public_id=api_key.public_id,
                    last_four=api_key.last_four,
                ),
                "source": (source or "")[:100],
            },
        )
    return api_key


def api_key_expiry_notices_send(*, now: datetime | None = None) -> int:
    """Email owners and the creator 7 days and 1 day before a key expires; once each."""
    now = now or timezone.now()
    sent = 0
    for field_name, ahead in EXPIRY_NOTICES:
        candidate_ids = list(
            ApiKey.objects.active(now=now)
            .filter(
                expires_at__isnull=False,
                expires_at__lte=now + ahead,
                **{f"{field_name}__isnull": True},
            )
            .values_list("pk", flat=True)[:500]
        )
        for pk in candidate_ids:
            if _expiry_notice_send_one(pk=pk, field_name=field_name, now=now):
                sent += 1
    return sent


@transaction.atomic
def _expiry_notice_send_one(*, pk: int, field_name: str, now: datetime) -> bool:
    # The conditional re-read under lock makes a second run (or worker) a no-op.
    api_key = (
        ApiKey.objects.select_for_update(of=("self",))
        .select_related("workspace", "created_by")
        .filter(pk=pk, **{f"{field_name}__isnull": True})
        .first()
    )
    if api_key is None:
        return False
    setattr(api_key, field_name, now)
    if field_name == "expiry_notice_1d_sent_at" and api_key.expiry_notice_7d_sent_at is None:
        # A key created with less than a week to live gets one notice, not two at once.
        api_key.expiry_notice_7d_sent_at = now
    api_key.save(update_fields=["expiry_notice_7d_sent_at", "expiry_notice_1d_sent_at"])
    recipients = set(
        User.objects.filter(
            memberships__workspace=api_key.workspace, memberships__role=Role.OWNER, is_active=True
        ).values_list("email", flat=True)
    )
    if api_key.created_by and api_key.created_by.is_active:
        recipients.add(api_key.created_by.email)
    audit_record(
        action=Action.API_KEY_EXPIRY_NOTICE_SENT,
        workspace=api_key.workspace_id,
        target_type="apikeys.apikey",
        target_id=api_key.public_id,
        metadata={"notice": field_name.split("_")[2]},
    )
    _event(
        webhook_events.API_KEY_EXPIRING,
        api_key=api_key,
        days_left=1 if field_name == "expiry_notice_1d_sent_at" else 7,
        expires_at=api_key.expires_at.isoformat(),
    )
    if recipients:
        email_enqueue(
            to=sorted(recipients),
            template="apikeys/email/key_expiring",
            context={
                "workspace_name": api_key.workspace.name,
                "workspace_id": api_key.workspace_id,
                "key_name": api_key.name,
                "public_id": api_key.public_id,
                "key_display": keys.display(
                    environment=api_key.environment,
                    public_id=api_key.public_id,
                    last_four=api_key.last_four,
                ),
                "expires_at": api_key.expires_at,
            },
        )
    return True


def api_key_last_used_flush(*, batch_size: int = 1000) -> int:
    """Write the buffered last-used times and IPs to the database in batches."""
    current = verification.store()
    verification.last_used_push()
    flushed = 0
    for previous in (False, True):
        entries = current.last_used_take(previous)
        rows = []
        for raw_id, raw_value in entries.items():
            try:
                key_id = int(raw_id)
                stamp, _, ip = raw_value.partition("|")
                used_at = datetime.fromtimestamp(int(stamp), tz=UTC)
            except ValueError:
                continue
            rows.append((key_id, used_at, ip or None))
        for start in range(0, len(rows), batch_size):
            flushed += _last_used_write(rows[start : start + batch_size], previous=previous)
    return flushed


@transaction.atomic
def _last_used_write(rows, *, previous: bool) -> int:
    existing = {
        pk: last
        for pk, last in ApiKey.objects.filter(pk__in=[row[0] for row in rows]).values_list(
            "pk", "previous_secret_last_used_at" if previous else "last_used_at"
        )
    }
    objects = []
    for key_id, used_at, ip in rows:
        if key_id not in existing:
            continue
        last = existing[key_id]
        if last is not None and last >= used_at:
            continue
        if previous:
            objects.append(ApiKey(pk=key_id, previous_secret_last_used_at=used_at))
        else:
            objects.append(ApiKey(pk=key_id, last_used_at=used_at, last_used_ip=ip))
    fields = ["previous_secret_last_used_at"] if previous else ["last_used_at", "last_used_ip"]
    ApiKey.objects.bulk_update(objects, fields, batch_size=500)
    return len(objects)
