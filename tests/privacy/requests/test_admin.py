import pytest
import time_machine
from django.core import mail
from django.urls import reverse

from accounts.models import AuditEvent
from privacy.requests.deadlines import Jurisdiction
from privacy.requests.models import PrivacyRequest, RequestStatus, RequestType
from privacy.requests.services import privacy_request_confirm, privacy_request_submit_public
from tests.factories import UserFactory
from tests.support import admin_client_with_mfa

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(db):
    return admin_client_with_mfa(UserFactory(is_staff=True, is_superuser=True))


def _public_request(request_type=RequestType.CORRECTION):
    _, token = privacy_request_submit_public(
        email="someone@example.com",
        name="Some One",
        request_type=request_type,
        jurisdiction=Jurisdiction.EEA_UK,
    )
    return privacy_request_confirm(token=token)


def test_queue_lists_confirmed_requests_with_figures(staff_client):
    _public_request()
    privacy_request_submit_public(
        email="u@example.com",
        name="",
        request_type=RequestType.OBJECTION,
        jurisdiction=Jurisdiction.EEA_UK,
    )
    response = staff_client.get(reverse("admin:privacy_privacyrequest_changelist"))
    page = response.content.decode()
    assert response.status_code == 200
    assert "Open: <strong>1</strong>" in page  # the unconfirmed one is not in the queue
    assert "Overdue: <strong>0</strong>" in page


def test_overdue_filter(staff_client):
    with time_machine.travel("2026-01-05 10:00:00+00:00", tick=False):
        old = _public_request()
    _public_request(RequestType.OBJECTION)
    url = reverse("admin:privacy_privacyrequest_changelist") + "?due=overdue"
    page = staff_client.get(url).content.decode()
    assert str(old.pk) in page
    assert page.count("/change/") == 1


def test_staff_actions_go_through_services_with_audit_and_email(
    staff_client, django_capture_on_commit_callbacks
):
    request = _public_request()
    act = lambda action: reverse("admin:privacy_privacyrequest_act", args=[request.pk, action])  # noqa: E731
    with django_capture_on_commit_callbacks(execute=True):
        assert staff_client.post(act("verify")).status_code == 302
        assert staff_client.post(act("start")).status_code == 302
        response = staff_client.post(act("extend"), {"reason": ""})
        assert response.status_code == 200  # the form asks for a reason
        staff_client.post(act("extend"), {"reason": "Several systems to search."})
        staff_client.post(act("note"), {"text": "Checked the billing system."})
        staff_client.post(act("complete"), {"resolution": "Corrected."})
    request.refresh_from_db()
    assert request.status == RequestStatus.COMPLETED
    assert request.extended_due_date is not None
    assert request.notes.get().text == "Checked the billing system."
    actions = set(
        AuditEvent.objects.filter(target_id=str(request.pk)).values_list("action", flat=True)
    )
    assert {
        "privacy_request.verified",
        "privacy_request.in_progress",
        "privacy_request.extended",
        "privacy_request.note_added",
        "privacy_request.completed",
    } <= actions
    subjects = [m.subject for m in mail.outbox]
    assert "We need more time for your privacy request" in subjects
    assert "Your privacy request is complete" in subjects


def test_reject_without_reason_changes_nothing(staff_client):
    request = _public_request()
    url = reverse("admin:privacy_privacyrequest_act", args=[request.pk, "reject"])
    assert staff_client.post(url, {"reason": ""}).status_code == 200
    request.refresh_from_db()
    assert request.status == RequestStatus.RECEIVED


def test_nobody_edits_or_deletes_a_request_directly(staff_client):
    request = _public_request()
    url = reverse("admin:privacy_privacyrequest_change", args=[request.pk])
    staff_client.post(url, {"status": "completed"})
    request.refresh_from_db()
    assert request.status == RequestStatus.RECEIVED
    delete = reverse("admin:privacy_privacyrequest_delete", args=[request.pk])
    assert staff_client.post(delete, {"post": "yes"}).status_code == 403
    assert PrivacyRequest.objects.filter(pk=request.pk).exists()
