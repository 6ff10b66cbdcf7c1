"""Support requests: opening, replies both ways, staff notes, assignment, status,
the public form's email confirmation, staff reminders, retention and account deletion.

open ⇄ answered | waiting on you → closed. The requester's message or reply puts the
request in the queue (open, waiting on staff); a staff reply answers it or asks for
something (waiting on you); a reply from the requester reopens even a closed request.
Every change is audited; every staff reply is emailed to the requester with a link.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from statistics import median

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.audit import audit_record
from accounts.emails import email_enqueue
from accounts.errors import Conflict, DomainError, NotFound
from accounts.models import User
from accounts.permissions import Perm
from accounts.selectors import staff_emails_with_permission, workspace_get_for_user
from apikeys.keys.models import ApiKey
from support import files
from support.models import (
    ACTIVE_STATUSES,
    Category,
    Channel,
    PublicReason,
    Status,
    SupportAttachment,
    SupportMessage,
    SupportRequest,
)

SUBJECT_MAX = 200
MESSAGE_MAX = 4000


class SupportAction:
    """Audit actions of the support desk."""

    CREATED = "support_request.created"
    REPLIED = "support_request.replied"
    STAFF_REPLIED = "support_request.staff_replied"
    NOTE_ADDED = "support_request.note_added"
    ASSIGNED = "support_request.assigned"
    STATUS_CHANGED = "support_request.status_changed"
    CLOSED = "support_request.closed"
    CONFIRMED = "support_request.confirmed"
    # Staff looked at the requester's account summary: shown in the person's activity.
    ACCOUNT_VIEWED = "support.account_viewed"


# Staff-side events the requester's activity log must not show (notes stay internal).
INTERNAL_ACTIONS = frozenset({SupportAction.NOTE_ADDED, SupportAction.ASSIGNED})


def _audit(request: SupportRequest, *, action: str, actor, metadata: dict | None = None):
    # Never the reported party's workspace: a report about someone else's key or content
    # must not tell them who reported it. The event concerns the requester only.
    audit_record(
        action=action,
        actor=actor,
        subject_user=None if action in INTERNAL_ACTIONS else request.user_id,
        target=request,
        metadata={"category": request.category, "status": request.status, **(metadata or {})},
    )


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _text(value: str, *, field: str, maximum: int, required: bool = True) -> str:
    value = (value or "").strip()
    if required and not value:
        raise DomainError("This field is required.", fields={field: ["This field is required."]})
    if len(value) > maximum:
        raise DomainError(
            f"At most {maximum} characters.", fields={field: [f"At most {maximum} characters."]}
        )
    if "\x00" in value:
        raise DomainError("Null characters are not allowed.", fields={field: ["Invalid text."]})
    return value


def _subject(value: str) -> str:
    # A subject reaches email headers: one line.
    return " ".join(_text(value, field="subject", maximum=SUBJECT_MAX).split())


def _category(value: str) -> str:
    if value not in Category.values:
        raise DomainError("Unknown category.", fields={"category": ["Not a valid choice."]})
    return value


def request_url(request: SupportRequest) -> str:
    return f"{settings.SITE_URL}/support/{request.pk}/"


def _add_message(
    request: SupportRequest,
    *,
    author,
    body: str,
    from_staff: bool = False,
    internal: bool = False,
    uploads=(),
    now=None,
) -> SupportMessage:
    message = SupportMessage.objects.create(
        request=request,
        author=author,
        from_staff=from_staff,
        internal=internal,
        body=body,
        created_at=now or timezone.now(),
    )
    for upload in uploads:
        attachment = SupportAttachment.objects.create(
            request=request,
            message=message,
            file_name=upload.name,
            content_type=upload.content_type,
            size=len(upload.data),
        )
        # A rolled-back transaction leaves the file without a row; the sweep removes it.
        files.file_write(attachment_id=attachment.pk, data=upload.data)
    return message


class ChosenObjectNotFound(NotFound):
    """A workspace or key that is not the person's: the same 404 as any foreign id (the
    API), with the field it concerns (the form)."""

    def __init__(self, message: str, *, fields: dict):
        DomainError.__init__(self, message, fields=fields)


def _resolve_context(*, user: User, workspace_id, api_key_id):
    """The workspace and key the person chose, checked against their memberships."""
    workspace = api_key = None
    if workspace_id:
        try:
            workspace = workspace_get_for_user(
                user=user, workspace_id=workspace_id, permission=Perm.WORKSPACE_VIEW
            )
        except NotFound as exc:
            raise ChosenObjectNotFound(
                "Choose one of your workspaces.", fields={"workspace": ["Not one of yours."]}
            ) from exc
    if api_key_id:
        # Any key of a workspace whose keys the person may see; the key names its
        # workspace when none was chosen, and must belong to the one that was.
        api_key = (
            ApiKey.objects.visible()
            .filter(public_id=str(api_key_id)[:24], workspace__deleted_at__isnull=True)
            .select_related("workspace")
            .first()
        )
        visible = api_key is not None and (
            workspace is None or api_key.workspace_id == workspace.pk
        )
        if visible:
            try:
                workspace_get_for_user(
                    user=user, workspace_id=api_key.workspace_id, permission=Perm.KEYS_VIEW
                )
            except NotFound:
                visible = False
        if not visible:
            raise ChosenObjectNotFound(
                "Choose one of your keys.", fields={"api_key": ["Not one of yours."]}
            )
        workspace = workspace or api_key.workspace
    return workspace, api_key


# ---------------------------------------------------------------------------- requester


@transaction.atomic
def support_request_create(
    *,
    user: User,
    subject: str,
    category: str,
    message: str,
    workspace_id=None,
    api_key_id=None,
    attachments=(),
) -> SupportRequest:
    """Open a request from a signed-in person; it waits on staff."""
    subject = _subject(subject)
    category = _category(category)
    body = _text(message, field="message", maximum=MESSAGE_MAX)
    workspace, api_key = _resolve_context(
        user=user, workspace_id=workspace_id, api_key_id=api_key_id
    )
    uploads = files.uploads_check(attachments)
    now = timezone.now()
    request = SupportRequest.objects.create(
        user=user,
        channel=Channel.ACCOUNT,
        email=user.email,
        name=user.name,
        subject=subject,
        category=category,
        status=Status.OPEN,
        workspace=workspace,
        api_key=api_key,
        created_at=now,
        received_at=now,
        waiting_since=now,
        updated_at=now,
    )
    _add_message(request, author=user, body=body, uploads=uploads, now=now)
    _audit(request, action=SupportAction.CREATED, actor=user, metadata={"files": len(uploads)})
    return request


def _locked(request: SupportRequest) -> SupportRequest:
    return SupportRequest.objects.select_for_update().get(pk=request.pk)


def _own(request: SupportRequest, user: User) -> SupportRequest:
    if (
        request.user_id is None
        or request.user_id != user.pk
        or request.status
        not in (
            *ACTIVE_STATUSES,
            Status.CLOSED,
        )
    ):
        raise NotFound()
    return _locked(request)


@transaction.atomic
def support_request_reply(
    *, request: SupportRequest, user: User, message: str, attachments=()
) -> SupportRequest:
    """The requester writes again; the request goes back to staff, even when closed."""
    request = _own(request, user)
    body = _text(message, field="message", maximum=MESSAGE_MAX)
    uploads = files.uploads_check(attachments)
    now = timezone.now()
    before = request.status
    _add_message(request, author=user, body=body, uploads=uploads, now=now)
    request.status = Status.OPEN
    request.closed_at = None
    request.waiting_since = request.waiting_since or now
    request.updated_at = now
    request.save(update_fields=["status", "closed_at", "waiting_since", "updated_at"])
    _audit(request, action=SupportAction.REPLIED, actor=user, metadata={"from": before})
    return request


@transaction.atomic
def support_request_close(*, request: SupportRequest, user: User) -> SupportRequest:
    """The requester closes their request."""
    request = _own(request, user)
    if request.status == Status.CLOSED:
        raise Conflict("This request is already closed.", code="invalid_transition")
    return _close(request, actor=user)


def _close(request: SupportRequest, *, actor) -> SupportRequest:
    before = request.status
    now = timezone.now()
    request.status = Status.CLOSED
    request.closed_at = now
    request.waiting_since = None
    request.updated_at = now
    request.save(update_fields=["status", "closed_at", "waiting_since", "updated_at"])
    _audit(request, action=SupportAction.CLOSED, actor=actor, metadata={"from": before})
    return request


# ---------------------------------------------------------------------------- public


@transaction.atomic
def support_request_submit_public(
    *, email: str, name: str, reason: str, subject: str, message: str
) -> tuple[SupportRequest, str]:
    """Record a request from someone who cannot sign in. Nothing reaches staff until the
    emailed one-time link is opened. Return the request and the token (stored hashed)."""
    email = User.objects.normalize_email((email or "").strip()).lower()
    if not email or "@" not in email or len(email) > 254 or "\n" in email:
        raise DomainError("Enter a valid email address.", fields={"email": ["Invalid email."]})
    name = _text(name, field="name", maximum=150, required=False)
    if reason not in PublicReason.values:
        raise DomainError("Unknown reason.", fields={"reason": ["Not a valid choice."]})
    subject = _subject(subject)
    body = _text(message, field="message", maximum=MESSAGE_MAX)
    token = secrets.token_urlsafe(32)
    now = timezone.now()
    hours = int(getattr(settings, "SUPPORT_PUBLIC_CONFIRMATION_HOURS", 24))
    request = SupportRequest.objects.create(
        channel=Channel.PUBLIC,
        public_reason=reason,
        email=email,
        name=name,
        subject=subject,
        category=Category.ACCOUNT,
        status=Status.UNCONFIRMED,
        created_at=now,
        updated_at=now,
        confirmation_token_hash=_token_hash(token),
        confirmation_expires_at=now + timedelta(hours=hours),
    )
    _add_message(request, author=None, body=body, now=now)
    email_enqueue(
        to=[email],
        template="support/email/public_confirm",
        context={
            "support_request": request,
            "confirm_url": f"{settings.SITE_URL}/support/public/confirm/{token}/",
            "hours": hours,
        },
    )
    return request, token


@transaction.atomic
def support_request_confirm(*, token: str) -> SupportRequest:
    """The emailed link was opened: the request reaches staff."""
    if not token or len(token) > 128:
        raise NotFound()
    request = (
        SupportRequest.objects.select_for_update()
        .filter(confirmation_token_hash=_token_hash(token), status=Status.UNCONFIRMED)
        .first()
    )
    now = timezone.now()
    if request is None or (
        request.confirmation_expires_at and request.confirmation_expires_at <= now
    ):
        raise NotFound()
    request.status = Status.OPEN
    request.confirmation_token_hash = ""
    request.received_at = now
    request.waiting_since = now
    request.updated_at = now
    request.save()
    _audit(request, action=SupportAction.CONFIRMED, actor=None, metadata={"channel": "public"})
    return request


# ---------------------------------------------------------------------------- staff


def _staff_request(request: SupportRequest) -> SupportRequest:
    request = _locked(request)
    if request.status not in (*ACTIVE_STATUSES, Status.CLOSED):
        raise NotFound()
    return request


@transaction.atomic
def support_staff_reply(
    *,
    request: SupportRequest,
    actor: User,
    message: str,
    waiting_on_customer: bool = False,
    attachments=(),
) -> SupportRequest:
    """Staff answer the requester; the answer is emailed with a link to the thread."""
    request = _staff_request(request)
    body = _text(message, field="message", maximum=MESSAGE_MAX)
    uploads = files.uploads_check(attachments)
    now = timezone.now()
    before = request.status
    _add_message(request, author=actor, body=body, from_staff=True, uploads=uploads, now=now)
    request.status = Status.WAITING if waiting_on_customer else Status.ANSWERED
    request.first_response_at = request.first_response_at or now
    request.waiting_since = None
    request.closed_at = None
    request.updated_at = now
    request.save(
        update_fields=["status", "first_response_at", "waiting_since", "closed_at", "updated_at"]
    )
    _audit(request, action=SupportAction.STAFF_REPLIED, actor=actor, metadata={"from": before})
    email_enqueue(
        to=[request.email],
        template="support/email/staff_reply",
        context={
            "support_request": request,
            "request_url": request_url(request),
            "body": body,
        },
    )
    return request


@transaction.atomic
def support_note_add(*, request: SupportRequest, actor: User, text: str) -> SupportMessage:
    """An internal staff note: never shown, emailed or exported to the requester."""
    request = _staff_request(request)
    body = _text(text, field="text", maximum=MESSAGE_MAX)
    note = _add_message(request, author=actor, body=body, from_staff=True, internal=True)
    _audit(request, action=SupportAction.NOTE_ADDED, actor=actor)
    return note


@transaction.atomic
def support_request_assign(
    *, request: SupportRequest, actor: User, assignee: User | None
) -> SupportRequest:
    """Give the request to a staff member (or to nobody)."""
    request = _staff_request(request)
    if assignee is not None and not (assignee.is_active and assignee.is_staff):
        raise DomainError("Only active staff can be assigned.", fields={"assignee": ["Not staff."]})
    request.assigned_to = assignee
    request.save(update_fields=["assigned_to"])
    _audit(
        request,
        action=SupportAction.ASSIGNED,
        actor=actor,
        metadata={"assignee_id": getattr(assignee, "pk", None)},
    )
    return request


STAFF_STATUSES = (Status.OPEN, Status.WAITING, Status.ANSWERED, Status.CLOSED)


@transaction.atomic
def support_request_set_status(
    *, request: SupportRequest, actor: User, status: str
) -> SupportRequest:
    """Staff move a request to another status (closing it, reopening it, ...)."""
    request = _staff_request(request)
    if status not in STAFF_STATUSES:
        raise DomainError("Unknown status.", fields={"status": ["Not a valid choice."]})
    if status == request.status:
        return request
    if status == Status.CLOSED:
        return _close(request, actor=actor)
    before = request.status
    now = timezone.now()
    request.status = status
    request.closed_at = None
    request.waiting_since = (request.waiting_since or now) if status == Status.OPEN else None
    request.updated_at = now
    request.save(update_fields=["status", "closed_at", "waiting_since", "updated_at"])
    _audit(request, action=SupportAction.STATUS_CHANGED, actor=actor, metadata={"from": before})
    return request


def _account_of_address(email: str) -> User | None:
    """The account whose verified address a public request came from, if exactly one."""
    from allauth.account.models import EmailAddress

    if not email:
        return None
    owners = list(
        EmailAddress.objects.filter(email__iexact=email, verified=True).values_list(
            "user_id", flat=True
        )[:2]
    )
    if len(owners) != 1:
        return None
    return User.objects.filter(pk=owners[0]).first()


def support_account_summary(*, request: SupportRequest, actor: User) -> dict | None:
    """The requester's account at a glance, for staff, without secrets.

    Each look is recorded as an access event the requester sees in their activity log.
    """
    from accounts.models import Membership
    from accounts.selectors import audit_events_about_user

    user = request.user if request.user_id else _account_of_address(request.email)
    if user is None:
        return None
    memberships = list(Membership.objects.of_user(user).order_by("workspace__name"))
    workspace_ids = [m.workspace_id for m in memberships]
    keys = [
        {
            "workspace": key.workspace.name,
            "name": key.name,
            "prefix": key.public_id,
            "environment": key.environment,
            "status": key.status,
            "last_used_at": key.last_used_at,
        }
        for key in ApiKey.objects.visible()
        .filter(workspace_id__in=workspace_ids)
        .select_related("workspace")
        .order_by("workspace__name", "name")[:100]
    ]
    events = list(audit_events_about_user(user=user).values("occurred_at", "action")[:20])
    audit_record(
        action=SupportAction.ACCOUNT_VIEWED,
        actor=actor,
        subject_user=user,
        target=request,
        metadata={"reason": "support_request"},
    )
    return {
        # A public request is not linked to the account: staff check the identity first.
        "linked": request.user_id is not None,
        "user": {
            "email": user.email,
            "name": user.name,
            "date_joined": user.date_joined,
            "last_login": user.last_login,
            "is_active": user.is_active,
        },
        "workspaces": [
            {"name": m.workspace.name, "role": m.get_role_display(), "id": m.workspace_id}
            for m in memberships
        ],
        "keys": keys,
        "events": events,
    }


# ---------------------------------------------------------------------------- targets


def targets_for(category: str) -> dict[str, int]:
    """First-response and resolution targets of a category, in hours (read at call time)."""
    targets = getattr(settings, "SUPPORT_TARGETS", {})
    default = targets.get("default", {"first_response_hours": 24, "resolution_hours": 120})
    return {**default, **targets.get(category, {})}


def _due(request: SupportRequest, kind: str):
    start = request.received_at or request.created_at
    return start + timedelta(hours=targets_for(request.category)[f"{kind}_hours"])


def response_due(request: SupportRequest):
    return None if request.first_response_at else _due(request, "first_response")


def resolution_due(request: SupportRequest):
    return None if request.status == Status.CLOSED else _due(request, "resolution")


def support_requests_over_target(queryset, *, now: datetime | None = None):
    """Requests waiting on staff longer than their category's first-response target."""
    now = now or timezone.now()
    condition = Q(pk__in=[])
    for category in Category.values:
        hours = targets_for(category)["first_response_hours"]
        condition |= Q(category=category, waiting_since__lt=now - timedelta(hours=hours))
    return queryset.filter(status=Status.OPEN).filter(condition)


def support_queue_figures(*, now: datetime | None = None) -> dict:
    """Median first response (hours) and the open requests by age."""
    now = now or timezone.now()
    received = SupportRequest.objects.received()
    answered = received.filter(
        first_response_at__isnull=False, received_at__isnull=False
    ).values_list("received_at", "first_response_at")[:5000]
    hours = [(first - start).total_seconds() / 3600 for start, first in answered]
    ages = {"under 1 day": 0, "1 to 3 days": 0, "3 to 7 days": 0, "over 7 days": 0}
    for start in received.active().values_list("received_at", flat=True):
        days = (now - (start or now)).total_seconds() / 86400
        key = (
            "under 1 day"
            if days < 1
            else "1 to 3 days"
            if days < 3
            else "3 to 7 days"
            if days < 7
            else "over 7 days"
        )
        ages[key] += 1
    return {
        "median_first_response_hours": round(median(hours), 1) if hours else None,
        "open_by_age": ages,
        "waiting_on_staff": received.waiting_on_staff().count(),
        "over_target": support_requests_over_target(received, now=now).count(),
    }


def _staff_recipients() -> list[str]:
    configured = list(getattr(settings, "SUPPORT_STAFF_EMAILS", []))
    if configured:
        return configured
    # Those who can work the queue (the Support role), not every staff member.
    return staff_emails_with_permission(app_label="support", codename="change_supportrequest")


def support_requests_remind_staff(*, now: datetime | None = None) -> dict[str, int]:
    """Email staff before and after a first-response or resolution target is missed.

    Each of the four reminders of a request is sent once (claimed by a conditional update).
    """
    now = now or timezone.now()
    before = timedelta(hours=float(getattr(settings, "SUPPORT_REMIND_BEFORE_HOURS", 2)))
    counts = {"response_due_soon": 0, "response_overdue": 0}
    counts.update(resolution_due_soon=0, resolution_overdue=0)
    recipients = _staff_recipients()
    pending = SupportRequest.objects.active().filter(
        Q(response_due_soon_sent_at__isnull=True, first_response_at__isnull=True)
        | Q(response_overdue_sent_at__isnull=True, first_response_at__isnull=True)
        | Q(resolution_due_soon_sent_at__isnull=True)
        | Q(resolution_overdue_sent_at__isnull=True)
    )
    for request in pending.order_by("received_at")[:1000]:
        for kind, due in (
            ("response", response_due(request)),
            ("resolution", _due(request, "resolution")),
        ):
            if due is None:
                continue
            if due <= now:
                reminder = f"{kind}_overdue"
            elif due - before <= now:
                reminder = f"{kind}_due_soon"
            else:
                continue
            counts[reminder] += _remind(request, reminder, due, recipients)
    return counts


@transaction.atomic
def _remind(request: SupportRequest, reminder: str, due, recipients: list[str]) -> int:
    field = f"{reminder}_sent_at"
    claimed = SupportRequest.objects.filter(pk=request.pk, **{f"{field}__isnull": True}).update(
        **{field: timezone.now()}
    )
    if claimed and recipients:
        email_enqueue(
            to=recipients,
            template="support/email/staff_reminder",
            context={
                "support_request": request,
                "reminder": reminder,
                "due": due,
                "admin_url": (
                    f"{settings.SITE_URL}/admin/support/supportrequest/{request.pk}/change/"
                ),
            },
        )
    return int(bool(claimed))


# ---------------------------------------------------------------------------- lifecycle


def _delete_requests(ids: list) -> dict[str, int]:
    """Delete requests with their messages and attachments, files first."""
    attachment_ids = list(
        SupportAttachment.objects.filter(request_id__in=ids).values_list("pk", flat=True)
    )
    for attachment_id in attachment_ids:
        files.file_delete(attachment_id=attachment_id)
    _, per_model = SupportRequest.objects.filter(pk__in=ids).delete()
    return dict(per_model)


def support_requests_purge(*, label: str, rule, now, stats) -> int:
    """The retention run's purger: requests closed longer ago than the retention period
    (SUPPORT_RETENTION_DAYS, read now), public ones never confirmed, and orphan files."""
    days = int(getattr(settings, "SUPPORT_RETENTION_DAYS", rule.days or 3 * 365))
    hours = int(getattr(settings, "SUPPORT_PUBLIC_CONFIRMATION_HOURS", 24))
    SupportRequest.objects.filter(
        status=Status.UNCONFIRMED, created_at__lt=now - timedelta(hours=2 * hours)
    ).update(status=Status.EXPIRED, closed_at=now, confirmation_token_hash="")
    condition = Q(status=Status.EXPIRED, closed_at__lte=now) | Q(
        status=Status.CLOSED, closed_at__lt=now - timedelta(days=days)
    )
    total = 0
    while True:
        with transaction.atomic():
            ids = list(
                SupportRequest.objects.filter(condition)
                .order_by("pk")
                .values_list("pk", flat=True)[:500]
            )
            if ids:
                total += _delete_requests(ids).get(label, 0)
        if len(ids) < 500:
            break
    support_files_sweep_orphans(now=now)
    return total


def support_files_sweep_orphans(*, now=None, min_age: timedelta = timedelta(hours=1)) -> int:
    """Delete attachment files no row owns (a rolled-back upload), once they are old."""
    now = now or timezone.now()
    removed = 0
    folder = files.folder(create=False)
    if not folder.is_dir():
        return 0
    for path in folder.iterdir():
        stem = path.name.split(".", 1)[0]
        modified = datetime.fromtimestamp(path.stat().st_mtime, tz=timezone.get_current_timezone())
        if now - modified < min_age:
            continue
        owned = _is_uuid(stem) and SupportAttachment.objects.filter(pk=stem).exists()
        if not owned:
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def _is_uuid(text: str) -> bool:
    import uuid

    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


# Reports about someone else's key or content may be needed after the reporter leaves;
# they are kept without any link to the reporter. Everything else goes with the account.
KEPT_ON_DELETION = (Category.ABUSE,)


def support_data_delete_for_account(
    *, user_id: int, deletion_id: int, limit: int
) -> tuple[dict[str, int], bool]:
    """A step of the account deletion job: delete the account's support requests with
    their messages and files; anonymise abuse and security reports (kept, unlinked, their
    files deleted), and unlink the person from notes and replies they wrote as staff."""
    counts: dict[str, int] = {}
    requests = SupportRequest.objects.filter(user_id=user_id)
    ids = list(
        requests.exclude(category__in=KEPT_ON_DELETION)
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    if ids:
        for label, count in _delete_requests(ids).items():
            counts[f"{label} (deleted)"] = count
        return counts, False
    kept = list(
        requests.filter(category__in=KEPT_ON_DELETION)
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    if kept:
        attachment_ids = list(
            SupportAttachment.objects.filter(request_id__in=kept).values_list("pk", flat=True)
        )
        for attachment_id in attachment_ids:
            files.file_delete(attachment_id=attachment_id)
        SupportAttachment.objects.filter(pk__in=attachment_ids).delete()
        SupportMessage.objects.filter(request_id__in=kept, author_id=user_id).update(author=None)
        anonymised = SupportRequest.objects.filter(pk__in=kept).update(
            user=None, email="", name="", status=Status.CLOSED, closed_at=timezone.now()
        )
        counts["support.SupportRequest (anonymised)"] = anonymised
        return counts, False
    SupportMessage.objects.filter(author_id=user_id).update(author=None)
    return counts, True


def support_export_files(*, zf, user) -> int:
    """Write the person's attachments into their data export (decrypted)."""
    written = 0
    attachments = SupportAttachment.objects.filter(
        request__user=user, message__internal=False
    ).order_by("created_at")
    for attachment in attachments.iterator(chunk_size=100):
        try:
            data = files.file_read(attachment_id=attachment.pk)
        except FileNotFoundError:
            continue
        zf.writestr(f"support_attachments/{attachment.pk}-{attachment.file_name}", data)
        written += 1
    return written
