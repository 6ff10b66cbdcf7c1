"""Writes of the privacy center: consent, privacy settings, policy versions and notices.

Each service is atomic and writes its audit event in the same transaction; email and
cache invalidation happen on commit.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts import request_context
from accounts.audit import audit_record
from accounts.emails import email_enqueue
from accounts.errors import Conflict, DomainError, NotFound
from accounts.models import User, Workspace
from accounts.services import user_preferences_update, workspace_settings_update
from privacy.consent import ip_hash
from privacy.models import (
    ConsentRecord,
    PolicyAcceptance,
    PolicyNotice,
    PolicyVersion,
    PrivacySettings,
)
from privacy.models.consent import ConsentMethod
from privacy.models.policy import AcceptanceSource, PolicyKind
from privacy.rendering import policy_markdown_render
from privacy.selectors import policy_current, policy_current_cache_clear


class PrivacyAction:
    """Audit actions of the privacy center."""

    SETTINGS_UPDATED = "privacy.settings_updated"
    CONSENT_RECORDED = "privacy.consent_recorded"
    CONSENT_LINKED = "privacy.consent_linked"
    POLICY_CREATED = "privacy.policy_created"
    POLICY_UPDATED = "privacy.policy_updated"
    POLICY_PUBLISHED = "privacy.policy_published"
    POLICY_NOTICES_SENT = "privacy.policy_notices_sent"
    POLICY_ACKNOWLEDGED = "privacy.policy_acknowledged"
    POLICIES_ACCEPTED = "privacy.policies_accepted"


# ---------------------------------------------------------------------------- key caches


def _api_key_caches_invalidate(*, workspace_id=None, user_id=None) -> None:
    """Drop cached key verification answers so the gateway sees new flags at once."""
    from apikeys import services as apikey_services

    if workspace_id is not None:
        invalidate = getattr(apikey_services, "api_key_cache_invalidate_workspace", None)
        if invalidate is not None:
            invalidate(workspace_id=workspace_id)
    if user_id is not None:
        invalidate = getattr(apikey_services, "api_key_cache_invalidate_for_user", None)
        if invalidate is not None:
            invalidate(user_id=user_id)


# ---------------------------------------------------------------------------- settings

USER_PRIVACY_FIELDS = ("training_opt_out", "do_not_sell_or_share")


@transaction.atomic
def privacy_settings_update(
    *,
    user: User,
    actor: User | None = None,
    training_opt_out: bool | None = None,
    do_not_sell_or_share: bool | None = None,
    marketing_emails: bool | None = None,
    source: str = "settings",
) -> PrivacySettings:
    """Change a user's privacy choices; `None` leaves a choice as it is."""
    row, _ = PrivacySettings.objects.select_for_update().get_or_create(user=user)
    requested = {"training_opt_out": training_opt_out, "do_not_sell_or_share": do_not_sell_or_share}
    changed = {}
    for name, value in requested.items():
        if value is None:
            continue
        if not isinstance(value, bool):
            raise DomainError("Expected true or false.", fields={name: ["Must be a boolean."]})
        if getattr(row, name) != value:
            changed[name] = {"from": getattr(row, name), "to": value}
            setattr(row, name, value)
    if changed:
        row.updated_at = timezone.now()
        row.save(update_fields=[*changed, "updated_at"])
        audit_record(
            action=PrivacyAction.SETTINGS_UPDATED,
            actor=actor or user,
            subject_user=user,
            target=row,
            metadata={"changes": changed, "source": source},
        )
        user_id = user.pk
        transaction.on_commit(lambda: _api_key_caches_invalidate(user_id=user_id))
    if marketing_emails is not None:
        if not isinstance(marketing_emails, bool):
            raise DomainError(
                "Expected true or false.", fields={"marketing_emails": ["Must be a boolean."]}
            )
        user_preferences_update(user=user, marketing_emails=marketing_emails)
    return row


WORKSPACE_PRIVACY_FIELDS = ("zero_data_retention", "training_opt_out", "usage_retention_days")


@transaction.atomic
def workspace_privacy_update(
    *,
    workspace: Workspace,
    actor: User,
    zero_data_retention: bool | None = None,
    training_opt_out: bool | None = None,
    usage_retention_days: int | None = None,
) -> Workspace:
    """Change a workspace's data-handling settings (admins and owners only)."""
    changes = {
        name: value
        for name, value in (
            ("zero_data_retention", zero_data_retention),
            ("training_opt_out", training_opt_out),
            ("usage_retention_days", usage_retention_days),
        )
        if value is not None
    }
    workspace_settings_update(workspace=workspace, actor=actor, **changes)
    workspace_id = workspace.pk
    transaction.on_commit(lambda: _api_key_caches_invalidate(workspace_id=workspace_id))
    return workspace


# ---------------------------------------------------------------------------- consent


def _client(ip_address: str | None, user_agent: str | None) -> tuple[str, str]:
    ctx = request_context.current()
    ip = ip_address if ip_address is not None else ctx.ip_address
    agent = user_agent if user_agent is not None else ctx.user_agent
    return ip_hash(ip), (agent or "")[:512]


def _signed_in(user) -> User | None:
    return user if getattr(user, "is_authenticated", False) else None


@transaction.atomic
def consent_record(
    *,
    visitor_id: uuid.UUID,
    user: User | None = None,
    preferences: bool,
    analytics: bool,
    marketing: bool,
    method: str,
    gpc: bool = False,
    ip_address: str | None = None,
    user_agent: str | None = None,
) -> ConsentRecord:
    """Record one consent decision as proof; GPC keeps analytics and marketing off."""
    if method not in ConsentMethod.values or method == ConsentMethod.GPC:
        raise DomainError("Unknown consent method.", fields={"method": ["Not a valid method."]})
    if not isinstance(visitor_id, uuid.UUID):
        raise DomainError("A visitor id is required.", fields={"visitor_id": ["Invalid."]})
    if gpc:
        analytics = marketing = False
    user = _signed_in(user)
    hashed_ip, agent = _client(ip_address, user_agent)
    from privacy.consent import BANNER_TEXT_VERSION

    record = ConsentRecord.objects.create(
        visitor_id=visitor_id,
        user=user,
        preferences=bool(preferences),
        analytics=bool(analytics),
        marketing=bool(marketing),
        cookie_policy_version=policy_current(kind=PolicyKind.COOKIE),
        banner_version=BANNER_TEXT_VERSION,
        method=method,
        gpc=gpc,
        ip_hash=hashed_ip,
        user_agent=agent,
    )
    if user is not None:
        audit_record(
            action=PrivacyAction.CONSENT_RECORDED,
            actor=user,
            subject_user=user,
            target=record,
            metadata={"categories": record.categories, "method": method, "gpc": gpc},
        )
        if gpc:
            privacy_settings_update(user=user, do_not_sell_or_share=True, source="gpc")
    return record


_GPC_SEEN_KEY = "privacy:gpc-seen:{visitor}:{version}:{user}"


def consent_gpc_record(
    *,
    visitor_id: uuid.UUID,
    user: User | None = None,
    preferences: bool = False,
    ip_address: str | None = None,
    user_agent: str | None = None,
) -> ConsentRecord | None:
    """Honour a Global Privacy Control signal: record it once per visitor and policy version.

    Return the new record, or None when this visitor's signal is already on file. For a
    signed-in user it also turns on "do not sell or share".
    """
    user = _signed_in(user)
    version = policy_current(kind=PolicyKind.COOKIE)
    seen_key = _GPC_SEEN_KEY.format(
        visitor=visitor_id, version=version.pk if version else 0, user=user.pk if user else 0
    )
    # Checked on every request carrying the header, so skip the database once recorded.
    if cache.get(seen_key):
        return None
    record = _consent_gpc_write(visitor_id, user, version, preferences, ip_address, user_agent)
    cache.set(seen_key, 1, timeout=24 * 3600)
    return record


@transaction.atomic
def _consent_gpc_write(visitor_id, user, version, preferences, ip_address, user_agent):
    from privacy.consent import BANNER_TEXT_VERSION

    record = None
    on_file = ConsentRecord.objects.filter(
        visitor_id=visitor_id, cookie_policy_version=version, method=ConsentMethod.GPC
    ).exists()
    if not on_file:
        hashed_ip, agent = _client(ip_address, user_agent)
        try:
            with transaction.atomic():
                record = ConsentRecord.objects.create(
                    visitor_id=visitor_id,
                    user=user,
                    preferences=bool(preferences),
                    analytics=False,
                    marketing=False,
                    cookie_policy_version=version,
                    banner_version=BANNER_TEXT_VERSION,
                    method=ConsentMethod.GPC,
                    gpc=True,
                    ip_hash=hashed_ip,
                    user_agent=agent,
                )
        except IntegrityError:
            # A concurrent request of the same browser recorded it first.
            record = None
    if user is not None:
        if record is not None:
            audit_record(
                action=PrivacyAction.CONSENT_RECORDED,
                actor=user,
                subject_user=user,
                target=record,
                metadata={"categories": record.categories, "method": "gpc", "gpc": True},
            )
        privacy_settings_update(user=user, do_not_sell_or_share=True, source="gpc")
    return record


@transaction.atomic
def consent_link_visitor(*, user: User, visitor_id: uuid.UUID | None) -> int:
    """Attach consent given in this browser before sign-in to the account; return how many."""
    if visitor_id is None or not getattr(user, "is_authenticated", False):
        return 0
    records = ConsentRecord.objects.filter(visitor_id=visitor_id, user__isnull=True)
    gpc_on_file = records.filter(method=ConsentMethod.GPC).exists()
    linked = records.update(user=user)
    if linked:
        audit_record(
            action=PrivacyAction.CONSENT_LINKED,
            actor=user,
            subject_user=user,
            metadata={"records": linked},
        )
    if gpc_on_file:
        privacy_settings_update(user=user, do_not_sell_or_share=True, source="gpc")
    return linked


# ---------------------------------------------------------------------------- policies

POLICY_DRAFT_FIELDS = (
    "version",
    "title",
    "body_markdown",
    "summary_of_changes",
    "material_change",
    "effective_at",
)


def _clean_policy_fields(fields: dict) -> dict:
    errors = {}
    for name in ("version", "title", "body_markdown"):
        if name in fields and not str(fields[name] or "").strip():
            errors[name] = ["This field is required."]
    if "version" in fields and len(str(fields["version"])) > 32:
        errors["version"] = ["At most 32 characters."]
    if "title" in fields and len(str(fields["title"])) > 200:
        errors["title"] = ["At most 200 characters."]
    if "effective_at" in fields and not isinstance(fields["effective_at"], datetime):
        errors["effective_at"] = ["Enter a date and time."]
    if errors:
        raise DomainError("The policy version is not valid.", fields=errors)
    return fields


@transaction.atomic
def policy_version_create(
    *,
    actor: User,
    kind: str,
    version: str,
    title: str,
    body_markdown: str,
    effective_at: datetime,
    summary_of_changes: str = "",
    material_change: bool = False,
) -> PolicyVersion:
    """Create a draft version of a policy; it is public only once published."""
    if kind not in PolicyKind.values:
        raise DomainError("Unknown policy.", fields={"kind": ["Not a valid policy."]})
    fields = _clean_policy_fields(
        {
            "version": version.strip(),
            "title": title.strip(),
            "body_markdown": body_markdown,
            "summary_of_changes": summary_of_changes,
            "material_change": bool(material_change),
            "effective_at": effective_at,
        }
    )
    if PolicyVersion.objects.filter(kind=kind, version=fields["version"]).exists():
        raise Conflict("That version label is already used.", code="duplicate_version") from None
    policy = PolicyVersion.objects.create(kind=kind, **fields)
    audit_record(
        action=PrivacyAction.POLICY_CREATED,
        actor=actor,
        target=policy,
        metadata={"kind": kind, "version": policy.version},
    )
    return policy


@transaction.atomic
def policy_version_update(
    *, policy_version: PolicyVersion, actor: User, **changes
) -> PolicyVersion:
    """Edit a draft; a published version is proof of what people saw and never changes."""
    policy = PolicyVersion.objects.select_for_update().get(pk=policy_version.pk)
    if policy.is_published:
        raise Conflict("A published version cannot be changed; create a new version.")
    unknown = set(changes) - set(POLICY_DRAFT_FIELDS)
    if unknown:
        raise DomainError(f"Unknown fields: {', '.join(sorted(unknown))}.")
    changes = _clean_policy_fields(changes)
    if (
        "version" in changes
        and PolicyVersion.objects.filter(kind=policy.kind, version=changes["version"])
        .exclude(pk=policy.pk)
        .exists()
    ):
        raise Conflict("That version label is already used.", code="duplicate_version")
    changed = [name for name, value in changes.items() if getattr(policy, name) != value]
    for name in changed:
        setattr(policy, name, changes[name])
    if changed:
        policy.save(update_fields=changed)
        audit_record(
            action=PrivacyAction.POLICY_UPDATED,
            actor=actor,
            target=policy,
            metadata={"fields": sorted(changed)},
        )
    return policy


@transaction.atomic
def policy_version_publish(
    *, policy_version: PolicyVersion, actor: User, now: datetime | None = None
) -> PolicyVersion:
    """Publish a draft. A material change needs the advance-notice period before it takes
    effect; its notice emails go out in batches when that period starts."""
    now = now or timezone.now()
    policy = PolicyVersion.objects.select_for_update().get(pk=policy_version.pk)
    if policy.is_published:
        raise Conflict("This version is already published.")
    if policy.effective_at < now - timedelta(minutes=5):
        raise DomainError(
            "The effective date cannot be in the past.",
            fields={"effective_at": ["Choose a date from now on."]},
        )
    days = settings.POLICY_NOTICE_DAYS
    if policy.material_change:
        earliest = now + timedelta(days=days)
        # A minute of slack so "exactly N days from now" entered in a form still counts.
        if policy.effective_at < earliest - timedelta(minutes=1):
            raise DomainError(
                f"A material change needs {days} days' notice: it can take effect on "
                f"{earliest:%Y-%m-%d %H:%M} UTC at the earliest.",
                fields={"effective_at": [f"At least {days} days from now."]},
            )
        policy.notice_days = days
        policy.notice_send_at = policy.effective_at - timedelta(days=days)
    policy.body_html = policy_markdown_render(policy.body_markdown)
    policy.published_at = now
    policy.save(update_fields=["body_html", "published_at", "notice_days", "notice_send_at"])
    audit_record(
        action=PrivacyAction.POLICY_PUBLISHED,
        actor=actor,
        target=policy,
        metadata={
            "kind": policy.kind,
            "version": policy.version,
            "material_change": policy.material_change,
            "effective_at": policy.effective_at.isoformat(),
        },
    )
    policy_current_cache_clear()
    transaction.on_commit(policy_current_cache_clear)
    if policy.material_change:
        from privacy.tasks import policy_notices_dispatch

        transaction.on_commit(policy_notices_dispatch.delay)
    return policy


def policy_notices_due(*, now: datetime | None = None) -> list[int]:
    """Ids of material versions whose advance-notice emails are due and not finished."""
    now = now or timezone.now()
    return list(
        PolicyVersion.objects.published()
        .filter(
            material_change=True,
            notice_send_at__lte=now,
            notices_completed_at__isnull=True,
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )


@transaction.atomic
def policy_notices_send_batch(
    *, policy_version_id: int, batch_size: int | None = None, now: datetime | None = None
) -> int:
    """Email the next batch of users about a material change; return how many were sent.

    Each user gets one notice row in the same transaction as their email is queued; the
    unique row makes re-running harmless. Zero means there is nothing left to send.
    """
    now = now or timezone.now()
    batch_size = batch_size or settings.POLICY_NOTICE_BATCH_SIZE
    # Locking the version serialises concurrent runs of the job for it.
    policy = (
        PolicyVersion.objects.select_for_update()
        .filter(pk=policy_version_id, material_change=True, published_at__isnull=False)
        .first()
    )
    if policy is None or policy.notices_completed_at is not None:
        return 0
    if policy.notice_send_at is None or policy.notice_send_at > now:
        return 0
    users = list(
        User.objects.filter(is_active=True)
        .exclude(policy_notices__policy_version=policy)
        .order_by("pk")[:batch_size]
    )
    if not users:
        policy.notices_completed_at = now
        policy.save(update_fields=["notices_completed_at"])
        return 0
    PolicyNotice.objects.bulk_create(
        [PolicyNotice(policy_version=policy, user=user, sent_at=now) for user in users]
    )
    url_name = "privacy_policy" if policy.kind == PolicyKind.PRIVACY else "cookie_policy"
    from django.urls import reverse

    for user in users:
        email_enqueue(
            to=[user.email],
            template="privacy/email/policy_change",
            context={
                "policy": policy,
                "name": user.get_short_name(),
                "policy_url": f"{settings.SITE_URL}{reverse(url_name)}",
            },
        )
    audit_record(
        action=PrivacyAction.POLICY_NOTICES_SENT,
        target=policy,
        metadata={"count": len(users)},
    )
    return len(users)


@transaction.atomic
def policy_acknowledge(*, user: User, policy_version: PolicyVersion) -> PolicyAcceptance:
    """Record that the user acknowledged a version now in force (idempotent)."""
    if not policy_version.is_published or policy_version.effective_at > timezone.now():
        raise NotFound()
    acceptance, created = PolicyAcceptance.objects.get_or_create(
        user=user,
        policy_version=policy_version,
        defaults={"source": AcceptanceSource.NOTICE},
    )
    if created:
        audit_record(
            action=PrivacyAction.POLICY_ACKNOWLEDGED,
            actor=user,
            subject_user=user,
            target=policy_version,
            metadata={"kind": policy_version.kind, "version": policy_version.version},
        )
    return acceptance


@transaction.atomic
def policy_acceptance_record_signup(*, user: User) -> list[PolicyAcceptance]:
    """Record the policy versions in force that a new user accepted by signing up."""
    accepted = []
    for kind in PolicyKind.values:
        version = policy_current(kind=kind)
        if version is None:
            continue
        acceptance, _ = PolicyAcceptance.objects.get_or_create(
            user=user, policy_version=version, defaults={"source": AcceptanceSource.SIGNUP}
        )
        accepted.append(acceptance)
    if accepted:
        audit_record(
            action=PrivacyAction.POLICIES_ACCEPTED,
            actor=user,
            subject_user=user,
            metadata={"versions": [a.policy_version_id for a in accepted], "source": "signup"},
        )
    return accepted
