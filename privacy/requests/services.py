"""Privacy requests: submission, identity confirmation, the status workflow, deadlines
and the automations that carry out what needs no human judgement.

received → verified → in progress → completed | rejected | cancelled. Every change is
audited and emailed to the requester. Access, portability and the CCPA right to know
start an export; deletion starts the account deletion; opt-outs and consent withdrawal
apply at once; correction, restriction, objection and child reports wait for staff.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.module_loading import import_string

from accounts.audit import audit_record
from accounts.emails import email_enqueue
from accounts.errors import Conflict, DomainError, NotFound
from accounts.models import Membership, User
from accounts.permissions import Role
from accounts.selectors import staff_emails_with_permission
from accounts.webhooks import events as webhook_events
from accounts.webhooks.services import webhook_event_record
from privacy.consent.models import ConsentMethod, ConsentRecord
from privacy.consent.services import consent_record
from privacy.data_use.services import privacy_settings_update
from privacy.deletion.services import account_deletion_request
from privacy.exports.services import export_request
from privacy.processors.models import ProcessorAction, ProcessorRequestKind
from privacy.processors.services import (
    processor_actions_cancel,
    processor_actions_dispatch,
    processor_subject_identifiers,
)
from privacy.requests.deadlines import Jurisdiction, deadlines_for, today_for
from privacy.requests.models import (
    OPEN_STATUSES,
    CloseReason,
    PrivacyRequest,
    PrivacyRequestNote,
    RequestStatus,
    RequestType,
)
from privacy.retention.services import retention_delete_in_batches

# What runs by itself once a request is verified: request type → dotted path of a
# callable(request=..., actor=...) that returns True when it completed the request.
AUTOMATIONS: dict[str, str] = {
    RequestType.ACCESS: "privacy.requests.services.apply_export",
    RequestType.PORTABILITY: "privacy.requests.services.apply_export",
    RequestType.CCPA_KNOW: "privacy.requests.services.apply_export",
    RequestType.DELETION: "privacy.requests.services.apply_deletion",
    RequestType.CCPA_DELETE: "privacy.requests.services.apply_deletion",
    RequestType.TRAINING_OPT_OUT: "privacy.requests.services.apply_training_opt_out",
    RequestType.CCPA_OPT_OUT: "privacy.requests.services.apply_sale_opt_out",
    RequestType.WITHDRAW_CONSENT: "privacy.requests.services.apply_consent_withdrawal",
}
STAFF_QUEUE_TYPES = frozenset(
    {
        RequestType.CORRECTION,
        RequestType.RESTRICTION,
        RequestType.OBJECTION,
        RequestType.CHILD_REPORT,
    }
)
# Types that only make sense for an existing account.
ACCOUNT_TYPES = frozenset(set(AUTOMATIONS))
# What each confirmed request asks of the processors that handle it (docs/processors.md).
# Correction, objection and child reports need staff judgement first; staff carry
# their outcome to processors by other means.
PROCESSOR_KINDS: dict[str, str] = {
    RequestType.DELETION: ProcessorRequestKind.ERASURE,
    RequestType.CCPA_DELETE: ProcessorRequestKind.ERASURE,
    RequestType.ACCESS: ProcessorRequestKind.ACCESS,
    RequestType.PORTABILITY: ProcessorRequestKind.ACCESS,
    RequestType.CCPA_KNOW: ProcessorRequestKind.ACCESS,
    RequestType.TRAINING_OPT_OUT: ProcessorRequestKind.OPT_OUT,
    RequestType.CCPA_OPT_OUT: ProcessorRequestKind.OPT_OUT,
    RequestType.RESTRICTION: ProcessorRequestKind.RESTRICTION,
    RequestType.WITHDRAW_CONSENT: ProcessorRequestKind.CONSENT_WITHDRAWAL,
}

AUTHORITY_NOTICE = (
    "If you disagree with this outcome you have the right to lodge a complaint with a "
    "data protection supervisory authority (in the EEA or UK) or the California Privacy "
    "Protection Agency or Attorney General (in California)."
)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _audit(request: PrivacyRequest, *, action: str, actor, metadata: dict | None = None):
    audit_record(
        action=f"privacy_request.{action}",
        actor=actor,
        subject_user=request.user_id,
        target=request,
        metadata={"type": request.request_type, "status": request.status, **(metadata or {})},
    )


# The outbox kind of the receipt email; when it is sent the request is acknowledged.
RECEIVED_EMAIL_KIND = "privacy.request_received"


def _notify(request: PrivacyRequest, *, event: str, extra: dict | None = None) -> None:
    email_enqueue(
        to=[request.email],
        kind=RECEIVED_EMAIL_KIND if event == "received" else "",
        ref=str(request.pk),
        template="privacy/email/request_status",
        context={
            "request": request,
            "event": event,
            "request_url": f"{settings.SITE_URL}/privacy/requests/{request.pk}/",
            "authority_notice": AUTHORITY_NOTICE,
            **(extra or {}),
        },
    )


def _validate_choice(value: str, choices, field: str) -> str:
    if value not in choices.values:
        raise DomainError(f"Unknown {field}.", fields={field: ["Not a valid choice."]})
    return value


def _clean_details(details: str) -> str:
    details = (details or "").strip()
    if len(details) > 5000:
        raise DomainError("Details are too long.", fields={"details": ["At most 5000 characters."]})
    return details


def _start_clock(request: PrivacyRequest, *, now) -> None:
    deadlines = deadlines_for(jurisdiction=request.jurisdiction, received=now)
    request.received_at = now
    request.acknowledge_by = deadlines.acknowledge_by
    request.due_date = deadlines.due
    # The receipt email is the acknowledgement (CCPA: within 10 business days); it is
    # recorded when that email is sent (privacy_request_acknowledged), not queued.


def privacy_request_acknowledged(*, ref: str, sent_at) -> int:
    """Record that the receipt email of request `ref` went out (an outbox hook)."""
    return PrivacyRequest.objects.filter(pk=ref, acknowledged_at__isnull=True).update(
        acknowledged_at=sent_at
    )


# ---------------------------------------------------------------------------- submit


@transaction.atomic
def privacy_request_submit(
    *, user: User, request_type: str, jurisdiction: str, details: str = ""
) -> PrivacyRequest:
    """Record a signed-in, re-authenticated user's request; identity counts as verified."""
    _validate_choice(request_type, RequestType, "request_type")
    _validate_choice(jurisdiction, Jurisdiction, "jurisdiction")
    if request_type == RequestType.CHILD_REPORT:
        raise DomainError(
            "A report about a child's account is made through the public form.",
            fields={"request_type": ["Use the public form for this."]},
        )
    duplicate = PrivacyRequest.objects.filter(
        user=user, request_type=request_type, status__in=OPEN_STATUSES
    ).exists()
    if duplicate:
        raise Conflict("You already have an open request of this type.", code="duplicate")
    now = timezone.now()
    request = PrivacyRequest(
        request_type=request_type,
        jurisdiction=jurisdiction,
        status=RequestStatus.RECEIVED,
        user=user,
        email=user.email,
        name=user.name,
        details=_clean_details(details),
        submitted_at=now,
    )
    _start_clock(request, now=now)
    request.save()
    _audit(request, action="received", actor=user)
    _status_event(request, previous=None)
    _notify(request, event="received")
    return _verify(request, actor=user, now=now)


@transaction.atomic
def privacy_request_submit_public(
    *, email: str, name: str, request_type: str, jurisdiction: str, details: str = ""
) -> tuple[PrivacyRequest, str]:
    """Record a request from someone not signed in; nothing starts until the emailed
    one-time link is opened. Return the request and the token (emailed, stored hashed)."""
    _validate_choice(request_type, RequestType, "request_type")
    _validate_choice(jurisdiction, Jurisdiction, "jurisdiction")
    email = User.objects.normalize_email((email or "").strip()).lower()
    if not email or "@" not in email or len(email) > 254:
        raise DomainError("Enter a valid email address.", fields={"email": ["Invalid email."]})
    name = (name or "").strip()
    if len(name) > 150:
        raise DomainError("Name is too long.", fields={"name": ["At most 150 characters."]})
    token = secrets.token_urlsafe(32)
    now = timezone.now()
    request = PrivacyRequest.objects.create(
        request_type=request_type,
        jurisdiction=jurisdiction,
        status=RequestStatus.UNCONFIRMED,
        email=email,
        name=name,
        details=_clean_details(details),
        submitted_at=now,
        confirmation_token_hash=_token_hash(token),
        confirmation_expires_at=now + timedelta(hours=settings.PRIVACY_REQUEST_CONFIRMATION_HOURS),
    )
    email_enqueue(
        to=[email],
        template="privacy/email/request_confirm",
        context={
            "request": request,
            "confirm_url": f"{settings.SITE_URL}/privacy/requests/confirm/{token}/",
            "hours": settings.PRIVACY_REQUEST_CONFIRMATION_HOURS,
        },
    )
    return request, token


@transaction.atomic
def privacy_request_confirm(*, token: str) -> PrivacyRequest:
    """Open the emailed link: the request is received and its legal clock starts."""
    if not token or len(token) > 128:
        raise NotFound()
    request = (
        PrivacyRequest.objects.select_for_update()
        .filter(confirmation_token_hash=_token_hash(token))
        .first()
    )
    now = timezone.now()
    if request is None or request.status != RequestStatus.UNCONFIRMED:
        raise NotFound()
    if request.confirmation_expires_at and request.confirmation_expires_at <= now:
        raise NotFound()
    request.status = RequestStatus.RECEIVED
    request.confirmation_token_hash = ""
    _start_clock(request, now=now)
    request.save()
    _audit(request, action="received", actor=None, metadata={"channel": "public"})
    _status_event(request, previous=RequestStatus.UNCONFIRMED)
    _notify(request, event="received")
    return request


# ---------------------------------------------------------------------------- workflow


def _locked(request: PrivacyRequest) -> PrivacyRequest:
    return PrivacyRequest.objects.select_for_update().get(pk=request.pk)


def _status_event(request: PrivacyRequest, *, previous: str | None) -> None:
    """Tell the webhook endpoints of every workspace the requester owns (in this
    transaction): ids, type and statuses only, never the request's contents."""
    if request.user_id is None:
        return
    workspace_ids = Membership.objects.filter(
        user_id=request.user_id, role=Role.OWNER, workspace__deleted_at__isnull=True
    ).values_list("workspace_id", flat=True)
    for workspace_id in workspace_ids:
        webhook_event_record(
            workspace=workspace_id,
            event_type=webhook_events.PRIVACY_REQUEST_STATUS_CHANGED,
            data={
                "request_id": str(request.pk),
                "request_type": request.request_type,
                "user_id": request.user_id,
                "previous_status": previous,
                "status": request.status,
            },
        )


def _transition(request: PrivacyRequest, *, to: str, actor, allowed_from, now=None, **fields):
    if request.status not in allowed_from:
        raise Conflict(
            f"A request that is {request.get_status_display().lower()} cannot become "
            f"{RequestStatus(to).label.lower()}.",
            code="invalid_transition",
        )
    before = request.status
    request.status = to
    for name, value in fields.items():
        setattr(request, name, value)
    request.save()
    _audit(request, action=to, actor=actor, metadata={"from": before})
    _status_event(request, previous=before)
    return request


def _verify(request: PrivacyRequest, *, actor, now) -> PrivacyRequest:
    if request.user_id is None:
        # A public request is linked to the account that owns the verified address.
        from allauth.account.models import EmailAddress

        address = (
            EmailAddress.objects.filter(email__iexact=request.email, verified=True)
            .select_related("user")
            .first()
        )
        if address is not None:
            request.user = address.user
    _transition(
        request,
        to=RequestStatus.VERIFIED,
        actor=actor,
        allowed_from=(RequestStatus.RECEIVED,),
        verified_at=now,
    )
    _notify(request, event="verified")
    _run_automation(request, actor=actor, now=now)
    return request


def _run_automation(request: PrivacyRequest, *, actor, now) -> None:
    path = AUTOMATIONS.get(request.request_type)
    if path is None or request.user_id is None:
        _dispatch_to_processors(request)
        return  # staff queue
    _transition(
        request,
        to=RequestStatus.IN_PROGRESS,
        actor=actor,
        allowed_from=(RequestStatus.VERIFIED,),
        started_at=now,
    )
    completed = import_string(path)(request=request, actor=actor)
    # After the automation: an erasure knows its account deletion by now.
    _dispatch_to_processors(request)
    if completed:
        _complete_or_wait(request, actor=actor, resolution="Carried out automatically.", now=now)


def _dispatch_to_processors(request: PrivacyRequest) -> None:
    """Carry the confirmed request to every processor that handles its kind.

    An erasure that deletes the account is held back until the deletion job runs, when
    the grace period in which the person may still cancel is over.
    """
    kind = PROCESSOR_KINDS.get(request.request_type)
    if kind is None:
        return
    processor_actions_dispatch(
        kind=kind,
        identifiers=processor_subject_identifiers(user_id=request.user_id, email=request.email),
        privacy_request_id=request.pk,
        deletion_id=request.deletion_id,
        subject_user_id=request.user_id,
        hold_until_deletion=bool(request.deletion_id),
    )


def _processors_outstanding(request: PrivacyRequest) -> int:
    return ProcessorAction.objects.for_request(request.pk).outstanding().count()


def _complete_or_wait(
    request: PrivacyRequest, *, actor, resolution: str, now=None
) -> PrivacyRequest:
    """Complete the request, or, while processors still owe their part, record that the
    console's own part is done; the last processor's answer completes it."""
    if not _processors_outstanding(request):
        return _complete(request, actor=actor, resolution=resolution, now=now)
    request.carried_out_at = now or timezone.now()
    request.resolution = resolution[:2000]
    request.save(update_fields=["carried_out_at", "resolution"])
    _audit(request, action="awaiting_processors", actor=actor)
    return request


def privacy_requests_follow_processors(*, privacy_request_id) -> int:
    """Complete a request whose own part is done, now that no processor owes anything
    (a processors hook, in the transaction of the last answer)."""
    request = (
        PrivacyRequest.objects.select_for_update()
        .filter(pk=privacy_request_id, status__in=OPEN_STATUSES, carried_out_at__isnull=False)
        .first()
    )
    if request is None or _processors_outstanding(request):
        return 0
    resolution = f"{request.resolution} Every processor that holds data for us has done so too."
    _complete(request, actor=None, resolution=resolution.strip())
    return 1


@transaction.atomic
def privacy_request_verify(*, request: PrivacyRequest, actor: User) -> PrivacyRequest:
    """Staff confirm the requester's identity; automations then run."""
    return _verify(_locked(request), actor=actor, now=timezone.now())


@transaction.atomic
def privacy_request_start(*, request: PrivacyRequest, actor: User) -> PrivacyRequest:
    request = _transition(
        _locked(request),
        to=RequestStatus.IN_PROGRESS,
        actor=actor,
        allowed_from=(RequestStatus.VERIFIED,),
        started_at=timezone.now(),
    )
    _notify(request, event="in_progress")
    return request


@transaction.atomic
def privacy_request_extend(*, request: PrivacyRequest, actor: User, reason: str) -> PrivacyRequest:
    """Extend the deadline once, with a reason sent to the requester in time."""
    request = _locked(request)
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(
            "An extension needs a reason for the requester.", fields={"reason": ["Required."]}
        )
    if request.status not in OPEN_STATUSES:
        raise Conflict("Only an open request can be extended.", code="invalid_transition")
    if request.extended_due_date:
        raise Conflict("This request has already been extended once.", code="already_extended")
    deadlines = deadlines_for(jurisdiction=request.jurisdiction, received=request.received_at)
    if today_for(request.jurisdiction) > deadlines.extension_notice_by:
        raise Conflict(
            "The extension notice must reach the requester before the original deadline "
            f"({deadlines.extension_notice_by:%d %B %Y}), which has passed.",
            code="too_late",
        )
    request.extended_due_date = deadlines.extended_due
    request.extension_reason = reason[:2000]
    request.extended_at = timezone.now()
    request.save(update_fields=["extended_due_date", "extension_reason", "extended_at"])
    _audit(request, action="extended", actor=actor, metadata={"due": str(deadlines.extended_due)})
    _notify(request, event="extended")
    return request


def _complete(request: PrivacyRequest, *, actor, resolution: str, now=None) -> PrivacyRequest:
    outstanding = _processors_outstanding(request)
    if outstanding:
        raise Conflict(
            f"{outstanding} processor action(s) are not completed yet. A request is complete "
            "when every processor has completed, or staff override the action with a reason.",
            code="processors_outstanding",
        )
    request = _transition(
        request,
        to=RequestStatus.COMPLETED,
        actor=actor,
        allowed_from=(RequestStatus.VERIFIED, RequestStatus.IN_PROGRESS),
        closed_at=now or timezone.now(),
        resolution=resolution[:2000],
    )
    _notify(request, event="completed")
    return request


@transaction.atomic
def privacy_request_complete(
    *, request: PrivacyRequest, actor: User | None, resolution: str = ""
) -> PrivacyRequest:
    return _complete(_locked(request), actor=actor, resolution=(resolution or "").strip())


@transaction.atomic
def privacy_request_reject(*, request: PrivacyRequest, actor: User, reason: str) -> PrivacyRequest:
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("A rejection needs a reason.", fields={"reason": ["Required."]})
    request = _transition(
        _locked(request),
        to=RequestStatus.REJECTED,
        actor=actor,
        allowed_from=OPEN_STATUSES,
        closed_at=timezone.now(),
        resolution=reason[:2000],
    )
    processor_actions_cancel(privacy_request_id=request.pk)
    _notify(request, event="rejected")
    return request


@transaction.atomic
def privacy_request_cancel(*, request: PrivacyRequest, user: User) -> PrivacyRequest:
    """The requester withdraws their own open request."""
    if request.user_id != user.pk:
        raise NotFound()
    request = _transition(
        _locked(request),
        to=RequestStatus.CANCELLED,
        actor=user,
        allowed_from=(*OPEN_STATUSES, RequestStatus.UNCONFIRMED),
        closed_at=timezone.now(),
    )
    processor_actions_cancel(privacy_request_id=request.pk)
    _notify(request, event="cancelled")
    return request


@transaction.atomic
def privacy_request_note_add(*, request: PrivacyRequest, author: User, text: str):
    text = (text or "").strip()
    if not text:
        raise DomainError("A note cannot be empty.", fields={"text": ["Required."]})
    note = PrivacyRequestNote.objects.create(request=request, author=author, text=text[:5000])
    _audit(request, action="note_added", actor=author)
    return note


# ---------------------------------------------------------------------------- alerts


def privacy_requests_alert_staff(*, today=None) -> dict[str, int]:
    """Email staff about requests due soon and overdue; each alert is sent once."""
    today = today or timezone.localdate()
    soon = today + timedelta(days=settings.PRIVACY_REQUEST_DUE_SOON_DAYS)
    recipients = _staff_recipients()
    counts = {"due_soon": 0, "overdue": 0}
    open_requests = PrivacyRequest.objects.open()
    for request in open_requests.filter(due_soon_alert_sent_at__isnull=True):
        due = request.effective_due_date
        if due and today <= due <= soon:
            counts["due_soon"] += _alert(request, "due_soon", recipients, today)
    for request in open_requests.overdue(today=today).filter(overdue_alert_sent_at__isnull=True):
        counts["overdue"] += _alert(request, "overdue", recipients, today)
    return counts


@transaction.atomic
def _alert(request: PrivacyRequest, kind: str, recipients: list[str], today) -> int:
    field = f"{kind}_alert_sent_at"
    # Conditional update: two beat runs never both send the same alert.
    claimed = PrivacyRequest.objects.filter(pk=request.pk, **{f"{field}__isnull": True}).update(
        **{field: timezone.now()}
    )
    if not claimed or not recipients:
        return int(bool(claimed))
    email_enqueue(
        to=recipients,
        template=f"privacy/email/staff_{kind}",
        context={
            "request": request,
            "due": request.effective_due_date,
            "today": today,
            "processor_actions": list(
                ProcessorAction.objects.for_request(request.pk)
                .outstanding()
                .select_related("processor")
            ),
            "admin_url": f"{settings.SITE_URL}/admin/privacy/privacyrequest/{request.pk}/change/",
        },
    )
    return 1


def _staff_recipients() -> list[str]:
    configured = list(settings.PRIVACY_STAFF_EMAILS)
    if configured:
        return configured
    # Those who can work the queue (the Privacy role), not every staff member.
    return staff_emails_with_permission(app_label="privacy", codename="change_privacyrequest")


# ---------------------------------------------------------------------------- automations


def apply_export(*, request: PrivacyRequest, actor) -> bool:
    """Start the data export of access, portability and right-to-know requests."""
    export = export_request(user=request.user, privacy_request=request)
    PrivacyRequest.objects.filter(pk=request.pk).update(export_id=export.pk)
    request.export_id = export.pk
    return False  # completed when the export is ready (privacy_requests_follow_export)


def privacy_requests_follow_export(*, export) -> int:
    """Complete the open request that asked for `export`, now that it is ready."""
    if not export.privacy_request_id:
        return 0
    request = PrivacyRequest.objects.filter(pk=export.privacy_request_id).first()
    if request is None or not request.is_open:
        return 0
    with transaction.atomic():
        _complete_or_wait(
            _locked(request),
            actor=None,
            resolution=(
                f"Your data export is ready to download for {settings.EXPORT_TTL_DAYS} days."
            ),
        )
    return 1


def apply_deletion(*, request: PrivacyRequest, actor) -> bool:
    """Start the account deletion (grace period, then the deletion job)."""
    ledger = account_deletion_request(user=request.user, actor=actor, reason="privacy_request")
    PrivacyRequest.objects.filter(pk=request.pk).update(deletion_id=ledger.pk)
    request.deletion_id = ledger.pk
    return False  # completed by the deletion job when it finishes


def privacy_requests_follow_deletion(*, deletion_id: int, completed: bool) -> int:
    """Close the requests that started a deletion: completed when the job finished,
    cancelled when the person cancelled it during the grace period."""
    closed = 0
    for request in PrivacyRequest.objects.open().filter(deletion_id=deletion_id):
        if completed:
            with transaction.atomic():
                _complete_or_wait(
                    _locked(request),
                    actor=None,
                    resolution="Your account and its data were deleted. A receipt was emailed.",
                )
        else:
            with transaction.atomic():
                request = _transition(
                    _locked(request),
                    to=RequestStatus.CANCELLED,
                    actor=None,
                    allowed_from=OPEN_STATUSES,
                    closed_at=timezone.now(),
                    resolution="The account deletion was cancelled during the grace period.",
                )
                processor_actions_cancel(privacy_request_id=request.pk)
                _notify(request, event="cancelled")
        closed += 1
    return closed


def _settings_update(request: PrivacyRequest, **changes) -> None:
    privacy_settings_update(
        user=request.user, actor=request.user, source="privacy_request", **changes
    )


def apply_training_opt_out(*, request: PrivacyRequest, actor) -> bool:
    _settings_update(request, training_opt_out=True)
    return True


def apply_sale_opt_out(*, request: PrivacyRequest, actor) -> bool:
    _settings_update(request, do_not_sell_or_share=True)
    return True


def apply_consent_withdrawal(*, request: PrivacyRequest, actor) -> bool:
    """Withdraw every consent-based processing: optional cookies on every browser the
    person consented from, marketing email, and use of their data for training."""
    import uuid

    visitors = set(
        ConsentRecord.objects.filter(user=request.user).values_list("visitor_id", flat=True)
    )
    for visitor_id in visitors or {uuid.uuid4()}:
        consent_record(
            visitor_id=visitor_id,
            user=request.user,
            preferences=False,
            analytics=False,
            marketing=False,
            method=ConsentMethod.REQUEST,
        )
    _settings_update(request, training_opt_out=True, marketing_emails=False)
    return True


# ---------------------------------------------------------------------------- endings


def privacy_requests_expire_unconfirmed(*, now=None) -> int:
    """Close public requests whose confirmation link expired a while ago unopened.

    They were never received (no legal clock started); closing them sets `closed_at`,
    from which retention purges them. Return how many were closed.
    """
    now = now or timezone.now()
    grace = timedelta(hours=settings.PRIVACY_REQUEST_UNCONFIRMED_GRACE_HOURS)
    window = timedelta(hours=settings.PRIVACY_REQUEST_CONFIRMATION_HOURS)
    # Conditional on the status: a confirmation racing with this cannot be undone by it.
    return (
        PrivacyRequest.objects.filter(status=RequestStatus.UNCONFIRMED)
        .filter(
            Q(confirmation_expires_at__lt=now - grace)
            | Q(confirmation_expires_at__isnull=True, submitted_at__lt=now - window - grace)
        )
        .update(
            status=RequestStatus.EXPIRED,
            closed_at=now,
            closed_reason=CloseReason.CONFIRMATION_EXPIRED,
            confirmation_token_hash="",
            resolution="The emailed confirmation link was never opened.",
        )
    )


def privacy_requests_purge(*, label: str, rule, now, stats) -> int:
    """Purge privacy requests for the retention run (their registered purger).

    Unconfirmed public requests are first expired, then deleted at once: they were
    never received, so there is no handling to show. Every other request is deleted
    `rule.days` after it was closed.
    """
    privacy_requests_expire_unconfirmed(now=now)
    condition = Q(status=RequestStatus.EXPIRED, closed_at__lte=now) | Q(
        closed_at__lt=now - timedelta(days=rule.days)
    )
    return retention_delete_in_batches(label, condition, stats)


def privacy_requests_close_for_deleted_account(
    *, user_id: int, deletion_id: int, limit: int
) -> tuple[dict[str, int], bool]:
    """Close up to `limit` open requests of an account being deleted; a deletion step.

    The request that asked for this deletion is left open: the job completes it when it
    finishes (privacy_requests_follow_deletion). The others can no longer be carried
    out; they are cancelled with the reason recorded and, from `closed_at`, purged with
    the other privacy requests. No email: the deletion receipt is the last one sent.
    """
    requests = list(
        PrivacyRequest.objects.select_for_update()
        .filter(user_id=user_id, status__in=OPEN_STATUSES)
        .exclude(deletion_id=deletion_id)
        .order_by("pk")[:limit]
    )
    now = timezone.now()
    for request in requests:
        _transition(
            request,
            to=RequestStatus.CANCELLED,
            actor=None,
            allowed_from=OPEN_STATUSES,
            closed_at=now,
            closed_reason=CloseReason.ACCOUNT_DELETED,
            resolution="Closed because the account was deleted before the request was carried out.",
        )
        processor_actions_cancel(privacy_request_id=request.pk)
    counts = {"privacy.PrivacyRequest (closed)": len(requests)} if requests else {}
    return counts, len(requests) < limit
