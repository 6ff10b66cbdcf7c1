"""Writes of policy versions: drafts, publication, advance notices of material
changes, acknowledgements and the versions accepted at sign-up.

Each service is atomic and writes its audit event in the same transaction; email and
cache invalidation happen on commit.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.audit import audit_record
from accounts.emails import email_enqueue
from accounts.errors import Conflict, DomainError, NotFound
from accounts.jobs import job_enqueue
from accounts.models import User
from privacy.policies.models import (
    AcceptanceSource,
    PolicyAcceptance,
    PolicyKind,
    PolicyNotice,
    PolicyVersion,
)
from privacy.policies.rendering import policy_markdown_render
from privacy.policies.selectors import policy_current, policy_current_cache_clear


class PolicyAction:
    """Audit actions of policy versions."""

    POLICY_CREATED = "privacy.policy_created"
    POLICY_UPDATED = "privacy.policy_updated"
    POLICY_PUBLISHED = "privacy.policy_published"
    POLICY_NOTICES_SENT = "privacy.policy_notices_sent"
    POLICY_ACKNOWLEDGED = "privacy.policy_acknowledged"
    POLICIES_ACCEPTED = "privacy.policies_accepted"


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
        action=PolicyAction.POLICY_CREATED,
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
            action=PolicyAction.POLICY_UPDATED,
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
        action=PolicyAction.POLICY_PUBLISHED,
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
        job_enqueue("privacy.tasks.policy_notices_dispatch")
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


# The outbox kind of a notice email; when it is sent the notice row records it.
NOTICE_EMAIL_KIND = "privacy.policy_notice"


def policy_notice_sent(*, ref: str, sent_at) -> int:
    """Record that the notice email `ref` went out (an outbox hook)."""
    return PolicyNotice.objects.filter(pk=ref, sent_at__isnull=True).update(sent_at=sent_at)


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
    # The notice row and its email commit together; `sent_at` is set when the email is
    # sent (policy_notice_sent), so the row says "queued once", never "lost".
    notices = PolicyNotice.objects.bulk_create(
        [PolicyNotice(policy_version=policy, user=user, queued_at=now) for user in users]
    )
    url_name = "privacy_policy" if policy.kind == PolicyKind.PRIVACY else "cookie_policy"
    from django.urls import reverse

    for user, notice in zip(users, notices, strict=True):
        email_enqueue(
            to=[user.email],
            kind=NOTICE_EMAIL_KIND,
            ref=str(notice.pk),
            template="privacy/email/policy_change",
            context={
                "policy": policy,
                "name": user.get_short_name(),
                "policy_url": f"{settings.SITE_URL}{reverse(url_name)}",
            },
        )
    audit_record(
        action=PolicyAction.POLICY_NOTICES_SENT,
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
            action=PolicyAction.POLICY_ACKNOWLEDGED,
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
            action=PolicyAction.POLICIES_ACCEPTED,
            actor=user,
            subject_user=user,
            metadata={"versions": [a.policy_version_id for a in accepted], "source": "signup"},
        )
    return accepted
