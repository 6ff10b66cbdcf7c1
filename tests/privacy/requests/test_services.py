from datetime import date

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from accounts.audit import audit_chain_verify
from accounts.errors import Conflict, DomainError, NotFound
from accounts.models import AuditEvent
from privacy.requests.deadlines import Jurisdiction
from privacy.requests.models import PrivacyRequest, RequestStatus, RequestType
from privacy.requests.services import (
    privacy_request_cancel,
    privacy_request_complete,
    privacy_request_confirm,
    privacy_request_extend,
    privacy_request_note_add,
    privacy_request_reject,
    privacy_request_start,
    privacy_request_submit,
    privacy_request_submit_public,
    privacy_request_verify,
    privacy_requests_alert_staff,
)
from tests.factories import UserFactory
from tests.support import staff_member

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _send_mail_on_commit(monkeypatch, django_capture_on_commit_callbacks):
    """Run on-commit callbacks (the emails) when each service returns.

    The test runs inside one transaction that never commits; pytest-django's capture
    executes the captured callbacks for real at the end of each wrapped service call.
    """
    import privacy.requests.services as module

    for name in dir(module):
        if name.startswith("privacy_request"):
            service = getattr(module, name)

            def wrapped(*args, _service=service, **kwargs):
                with django_capture_on_commit_callbacks(execute=True):
                    return _service(*args, **kwargs)

            monkeypatch.setattr(module, name, wrapped)
            globals()[name] = wrapped


@pytest.fixture
def staff(db):
    return staff_member("Privacy", email="dpo@example.com")


def _submit(user, request_type=RequestType.CORRECTION, jurisdiction=Jurisdiction.EEA_UK):
    return privacy_request_submit(
        user=user, request_type=request_type, jurisdiction=jurisdiction, details="Wrong name"
    )


@time_machine.travel("2027-01-30 10:00:00+00:00", tick=False)
def test_signed_in_request_is_received_verified_and_due_per_gdpr(user):
    request = _submit(user)
    assert request.status == RequestStatus.VERIFIED
    assert request.received_at is not None and request.verified_at is not None
    # 30 Jan 2027 + 1 month → 28 Feb 2027, a Sunday → Monday 1 March.
    assert request.due_date == date(2027, 3, 1)
    assert request.acknowledge_by is None
    actions = list(
        AuditEvent.objects.filter(target_id=str(request.pk))
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["privacy_request.received", "privacy_request.verified"]
    assert [m.to for m in mail.outbox] == [[user.email], [user.email]]
    assert "1 March 2027" in mail.outbox[0].body


@time_machine.travel("2026-11-20 10:00:00+00:00", tick=False)
def test_california_request_has_an_acknowledgement_date_and_45_day_due_date(user):
    request = _submit(user, jurisdiction=Jurisdiction.CALIFORNIA)
    # Ten business days, Thanksgiving and the day after (California holidays) not counted.
    assert request.acknowledge_by == date(2026, 12, 8)
    assert request.due_date == date(2027, 1, 4)


def test_a_second_open_request_of_the_same_type_is_refused(user):
    _submit(user)
    with pytest.raises(Conflict):
        _submit(user)
    assert PrivacyRequest.objects.count() == 1


def test_bad_choices_are_refused_and_store_nothing(user):
    with pytest.raises(DomainError):
        privacy_request_submit(user=user, request_type="telepathy", jurisdiction="eea_uk")
    with pytest.raises(DomainError):
        privacy_request_submit(user=user, request_type="correction", jurisdiction="mars")
    assert PrivacyRequest.objects.count() == 0


def test_public_request_starts_only_after_the_emailed_link(staff):
    request, token = privacy_request_submit_public(
        email="Someone@Example.com",
        name="Some One",
        request_type=RequestType.CHILD_REPORT,
        jurisdiction=Jurisdiction.ELSEWHERE,
        details="My child signed up.",
    )
    assert request.status == RequestStatus.UNCONFIRMED
    assert request.received_at is None and request.due_date is None
    assert token not in request.confirmation_token_hash
    assert len(mail.outbox) == 1 and token in mail.outbox[0].body
    confirmed = privacy_request_confirm(token=token)
    assert confirmed.status == RequestStatus.RECEIVED
    assert confirmed.due_date is not None and confirmed.acknowledge_by is not None
    with pytest.raises(NotFound):
        privacy_request_confirm(token=token)  # one-time


def test_public_request_link_expires():
    with time_machine.travel("2026-11-22 10:00:00+00:00", tick=False):
        _, token = privacy_request_submit_public(
            email="a@example.com",
            name="",
            request_type=RequestType.OBJECTION,
            jurisdiction=Jurisdiction.EEA_UK,
        )
    with time_machine.travel("2026-11-23 10:00:01+00:00", tick=False), pytest.raises(NotFound):
        privacy_request_confirm(token=token)


def test_staff_workflow_start_complete_with_audit_and_email(user, staff):
    request = _submit(user)
    privacy_request_start(request=request, actor=staff)
    done = privacy_request_complete(request=request, actor=staff, resolution="Name corrected.")
    assert done.status == RequestStatus.COMPLETED and done.closed_at
    assert "Name corrected." in mail.outbox[-1].body
    with pytest.raises(Conflict):
        privacy_request_start(request=done, actor=staff)
    assert audit_chain_verify()[1] is None


def test_rejection_needs_a_reason_and_tells_of_the_right_to_complain(user, staff):
    request = _submit(user)
    with pytest.raises(DomainError):
        privacy_request_reject(request=request, actor=staff, reason="  ")
    request.refresh_from_db()
    assert request.status == RequestStatus.VERIFIED
    rejected = privacy_request_reject(request=request, actor=staff, reason="Data is accurate.")
    assert rejected.status == RequestStatus.REJECTED
    assert "supervisory authority" in mail.outbox[-1].body


def test_extension_once_within_the_first_month_with_a_reason(user, staff):
    with time_machine.travel("2026-11-02 09:00:00+00:00", tick=False):
        request = _submit(user)
    with time_machine.travel("2026-11-20 09:00:00+00:00", tick=False):
        with pytest.raises(DomainError):
            privacy_request_extend(request=request, actor=staff, reason="")
        extended = privacy_request_extend(request=request, actor=staff, reason="Many systems.")
        assert extended.extended_due_date == date(2027, 2, 2)
        assert "Many systems." in mail.outbox[-1].body
        with pytest.raises(Conflict):
            privacy_request_extend(request=request, actor=staff, reason="Again")


def test_extension_after_the_original_deadline_is_refused(user, staff):
    with time_machine.travel("2026-11-02 09:00:00+00:00", tick=False):
        request = _submit(user)
    with time_machine.travel("2026-12-03 09:00:00+00:00", tick=False), pytest.raises(Conflict):
        privacy_request_extend(request=request, actor=staff, reason="Too late")
    request.refresh_from_db()
    assert request.extended_due_date is None


def test_requester_cancels_own_request_only(user):
    request = _submit(user)
    other = UserFactory()
    with pytest.raises(NotFound):
        privacy_request_cancel(request=request, user=other)
    cancelled = privacy_request_cancel(request=request, user=user)
    assert cancelled.status == RequestStatus.CANCELLED


def test_staff_notes_are_stored_encrypted_and_audited(user, staff):
    request = _submit(user)
    note = privacy_request_note_add(request=request, author=staff, text="Called the user.")
    assert note.text == "Called the user."
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT text FROM privacy_privacyrequestnote WHERE id = %s", [note.pk])
        assert "Called" not in cursor.fetchone()[0]


def test_staff_alerts_go_out_once_before_and_after_the_due_date(user, staff):
    with time_machine.travel("2026-11-02 09:00:00+00:00", tick=False):
        request = _submit(user)  # due Wednesday 2 December 2026
    mail.outbox.clear()
    assert privacy_requests_alert_staff(today=date(2026, 11, 20)) == {"due_soon": 0, "overdue": 0}
    assert privacy_requests_alert_staff(today=date(2026, 11, 28)) == {"due_soon": 1, "overdue": 0}
    assert privacy_requests_alert_staff(today=date(2026, 11, 29)) == {"due_soon": 0, "overdue": 0}
    assert privacy_requests_alert_staff(today=date(2026, 12, 3)) == {"due_soon": 0, "overdue": 1}
    assert privacy_requests_alert_staff(today=date(2026, 12, 4)) == {"due_soon": 0, "overdue": 0}
    assert [m.to for m in mail.outbox] == [[staff.email], [staff.email]]
    assert "OVERDUE" in mail.outbox[1].subject
    request.refresh_from_db()
    with time_machine.travel("2026-12-03 09:00:00+00:00", tick=False):
        assert request.is_overdue is True
        assert list(PrivacyRequest.objects.overdue()) == [request]


def test_staff_alerts_go_to_the_privacy_role_only(user, staff, settings):
    settings.PRIVACY_STAFF_EMAILS = []
    staff_member("Support", email="support@example.com")
    staff_member("Security", email="security@example.com")
    staff_member("Privacy", email="inactive-dpo@example.com", is_active=False)
    UserFactory(is_staff=True, is_superuser=True, email="root@example.com")
    with time_machine.travel("2026-11-02 09:00:00+00:00", tick=False):
        _submit(user)
    mail.outbox.clear()
    assert privacy_requests_alert_staff(today=date(2026, 11, 28)) == {"due_soon": 1, "overdue": 0}
    assert [m.to for m in mail.outbox] == [[staff.email]]


def test_staff_verify_links_a_public_request_to_the_verified_account(user, staff):
    _, token = privacy_request_submit_public(
        email=user.email,
        name="",
        request_type=RequestType.RESTRICTION,
        jurisdiction=Jurisdiction.EEA_UK,
    )
    request = privacy_request_confirm(token=token)
    verified = privacy_request_verify(request=request, actor=staff)
    assert verified.user == user and verified.status == RequestStatus.VERIFIED


def test_training_opt_out_request_applies_at_once_and_completes(user):
    from privacy.data_use.models import PrivacySettings

    request = _submit(user, request_type=RequestType.TRAINING_OPT_OUT)
    request.refresh_from_db()
    assert request.status == RequestStatus.COMPLETED
    assert PrivacySettings.objects.get(user=user).training_opt_out is True


def test_ccpa_opt_out_request_sets_do_not_sell_or_share(user):
    from privacy.data_use.models import PrivacySettings

    request = _submit(user, RequestType.CCPA_OPT_OUT, Jurisdiction.CALIFORNIA)
    request.refresh_from_db()
    assert request.status == RequestStatus.COMPLETED
    assert PrivacySettings.objects.get(user=user).do_not_sell_or_share is True


def test_consent_withdrawal_turns_off_cookies_marketing_and_training(user):
    import uuid

    from accounts.models import User
    from privacy.consent.models import ConsentRecord
    from privacy.consent.services import consent_record
    from privacy.data_use.models import PrivacySettings

    visitor = uuid.uuid4()
    consent_record(
        visitor_id=visitor,
        user=user,
        preferences=True,
        analytics=True,
        marketing=True,
        method="button",
    )
    User.objects.filter(pk=user.pk).update(marketing_emails=True)
    user.refresh_from_db()
    request = _submit(user, RequestType.WITHDRAW_CONSENT)
    request.refresh_from_db()
    assert request.status == RequestStatus.COMPLETED
    latest = ConsentRecord.objects.filter(visitor_id=visitor).latest_first().first()
    assert (latest.preferences, latest.analytics, latest.marketing) == (False, False, False)
    assert latest.method == "request"
    user.refresh_from_db()
    assert user.marketing_emails is False
    assert PrivacySettings.objects.get(user=user).training_opt_out is True


def test_deletion_request_schedules_the_deletion_and_follows_it(user):
    from privacy.deletion.models import DeletionRequest
    from privacy.requests.services import privacy_requests_follow_deletion

    request = _submit(user, RequestType.DELETION)
    request.refresh_from_db()
    assert request.status == RequestStatus.IN_PROGRESS
    ledger = DeletionRequest.objects.get(pk=request.deletion_id)
    assert ledger.target_id == str(user.pk) and ledger.status == "pending"
    assert privacy_requests_follow_deletion(deletion_id=ledger.pk, completed=False) == 1
    request.refresh_from_db()
    assert request.status == RequestStatus.CANCELLED


def test_deletion_request_completes_when_the_deletion_job_finishes(user):
    from privacy.deletion.models import DeletionRequest
    from privacy.deletion.services import deletion_run

    request = _submit(user, RequestType.DELETION)
    request.refresh_from_db()
    DeletionRequest.objects.filter(pk=request.deletion_id).update(scheduled_for=timezone.now())
    assert deletion_run(deletion_id=request.deletion_id) == "completed"
    request.refresh_from_db()
    assert request.status == RequestStatus.COMPLETED
    assert request.user is None  # the account is gone; the request record stays
    assert "deleted" in request.resolution


def test_signing_in_during_the_grace_period_offers_to_cancel(client, user):
    from privacy.deletion.services import account_deletion_request

    account_deletion_request(user=user)
    client.force_login(user)
    page = client.get("/").content.decode()
    assert "Your account is scheduled for deletion" in page
    assert 'action="/account/delete/cancel/"' in page


# ---------------------------------------------------------------------------- endings


def _public_request():
    request, _token = privacy_request_submit_public(
        email="visitor@example.com",
        name="Vera Visitor",
        request_type=RequestType.ACCESS,
        jurisdiction=Jurisdiction.EEA_UK,
        details="Please send me everything.",
    )
    return request, _token


def test_an_unconfirmed_request_expires_after_the_window_and_grace_and_is_purged(settings):
    from datetime import timedelta

    from privacy.requests.models import CloseReason
    from privacy.requests.services import privacy_requests_expire_unconfirmed
    from privacy.retention.services import retention_run

    settings.PRIVACY_REQUEST_CONFIRMATION_HOURS = 24
    settings.PRIVACY_REQUEST_UNCONFIRMED_GRACE_HOURS = 24
    request, token = _public_request()
    submitted = request.submitted_at

    assert privacy_requests_expire_unconfirmed(now=submitted + timedelta(hours=47)) == 0
    assert privacy_requests_expire_unconfirmed(now=submitted + timedelta(hours=49)) == 1

    request.refresh_from_db()
    assert request.status == RequestStatus.EXPIRED
    assert request.closed_reason == CloseReason.CONFIRMATION_EXPIRED
    assert request.closed_at == submitted + timedelta(hours=49)
    assert request.confirmation_token_hash == ""
    with pytest.raises(NotFound):
        privacy_request_confirm(token=token)

    run = retention_run(now=submitted + timedelta(hours=50))
    assert not PrivacyRequest.objects.filter(pk=request.pk).exists()
    assert run.counts["privacy_requests"] == 1


def test_the_retention_run_expires_and_purges_unconfirmed_requests_but_keeps_received_ones(
    settings,
):
    from datetime import timedelta

    from privacy.retention.services import retention_run

    forgotten, _ = _public_request()
    confirmed, token = _public_request()
    privacy_request_confirm(token=token)
    closed = privacy_request_submit(
        user=UserFactory(), request_type=RequestType.CORRECTION, jurisdiction=Jurisdiction.EEA_UK
    )
    privacy_request_complete(request=closed, actor=None, resolution="Fixed.")
    later = timezone.now() + timedelta(
        hours=settings.PRIVACY_REQUEST_CONFIRMATION_HOURS
        + settings.PRIVACY_REQUEST_UNCONFIRMED_GRACE_HOURS
        + 1
    )

    retention_run(now=later)

    assert not PrivacyRequest.objects.filter(pk=forgotten.pk).exists()
    assert PrivacyRequest.objects.get(pk=confirmed.pk).status == RequestStatus.RECEIVED
    assert PrivacyRequest.objects.filter(pk=closed.pk).exists()  # kept 3 years
    retention_run(now=timezone.now() + timedelta(days=3 * 365 + 1))
    assert not PrivacyRequest.objects.filter(pk=closed.pk).exists()


def test_deleting_an_account_closes_its_open_requests_with_the_reason_and_they_are_purged():
    from datetime import timedelta

    from privacy.deletion.models import DeletionRequest
    from privacy.deletion.services import deletion_run
    from privacy.requests.models import CloseReason
    from privacy.retention.services import retention_run

    user = UserFactory()
    correction = privacy_request_submit(
        user=user, request_type=RequestType.CORRECTION, jurisdiction=Jurisdiction.EEA_UK
    )
    objection = privacy_request_submit(
        user=user, request_type=RequestType.OBJECTION, jurisdiction=Jurisdiction.EEA_UK
    )
    privacy_request_start(request=objection, actor=UserFactory(is_staff=True))
    erasure = privacy_request_submit(
        user=user, request_type=RequestType.DELETION, jurisdiction=Jurisdiction.EEA_UK
    )
    deletion = DeletionRequest.objects.get(pk=PrivacyRequest.objects.get(pk=erasure.pk).deletion_id)
    DeletionRequest.objects.filter(pk=deletion.pk).update(
        scheduled_for=timezone.now() - timedelta(seconds=1)
    )

    while deletion_run(deletion_id=deletion.pk) == "yielded":
        pass

    for request in (correction, objection):
        request.refresh_from_db()
        assert request.status == RequestStatus.CANCELLED
        assert request.closed_reason == CloseReason.ACCOUNT_DELETED
        assert request.closed_at is not None and request.user_id is None
    erasure.refresh_from_db()
    assert erasure.status == RequestStatus.COMPLETED and erasure.closed_reason == ""
    assert not PrivacyRequest.objects.open().exists()
    # Kept for their retention period (3 years after closing), then purged.
    retention_run(now=timezone.now() + timedelta(days=365))
    assert PrivacyRequest.objects.count() == 3
    retention_run(now=timezone.now() + timedelta(days=3 * 365 + 1))
    assert PrivacyRequest.objects.count() == 0
