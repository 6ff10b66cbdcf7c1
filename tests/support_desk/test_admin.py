from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent
from accounts.selectors import audit_events_for_user
from support.models import Status, SupportMessage, SupportRequest
from support.services import SupportAction, support_request_create
from tests.factories import UserFactory, WorkspaceFactory
from tests.support import admin_client_with_mfa

from .conftest import png

pytestmark = pytest.mark.django_db


def _agent():
    """A support agent: staff in the Support group, not a superuser."""
    agent = UserFactory(is_staff=True)
    agent.groups.add(Group.objects.get(name="Support"))
    return agent


@pytest.fixture
def agent(db):
    return _agent()


@pytest.fixture
def desk(agent):
    return admin_client_with_mfa(agent)


def _open(user=None, **kwargs):
    fields = {"subject": "Help me", "category": "other", "message": "Please."}
    return support_request_create(user=user or UserFactory(), **{**fields, **kwargs})


def test_a_support_agent_sees_the_queue_with_its_figures(desk):
    _open()
    response = desk.get(reverse("admin:support_supportrequest_changelist"))
    page = response.content.decode()
    assert response.status_code == 200
    assert "Median first response" in page and "Waiting on staff: <strong>1</strong>" in page
    assert "Help me" in page


def test_filters_assigned_to_me_age_and_over_target(desk, agent):
    with time_machine.travel(timezone.now() - timedelta(days=5), tick=False):
        old = _open(subject="Old one", category="abuse")
    mine = _open(subject="Mine one")
    mine.assigned_to = agent
    mine.save(update_fields=["assigned_to"])
    url = reverse("admin:support_supportrequest_changelist")
    assert "Mine one" in desk.get(url + "?assigned=me").content.decode()
    assert "Old one" not in desk.get(url + "?assigned=me").content.decode()
    page = desk.get(url + "?target=missed").content.decode()
    assert "Old one" in page and "Mine one" not in page
    page = desk.get(url + "?age=7d").content.decode()
    assert str(old.pk) in page and str(mine.pk) not in page
    assert "Old one" in desk.get(url + "?status=open&category=abuse").content.decode()


def test_opening_a_request_shows_thread_and_summary_and_is_recorded_for_the_customer(desk, agent):
    customer = UserFactory()
    WorkspaceFactory(owner=customer, name="Customer WS")
    request = _open(customer, attachments=[png()])
    page = desk.get(reverse("admin:support_supportrequest_change", args=[request.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    assert "Please." in html and "Customer WS" in html and "screenshot.png" in html
    seen = audit_events_for_user(user=customer).filter(action=SupportAction.ACCOUNT_VIEWED)
    assert seen.count() == 1 and seen.get().actor_id == agent.pk
    attachment = request.attachments.get()
    download = desk.get(
        reverse("admin:support_supportrequest_file", args=[request.pk, attachment.pk])
    )
    assert download.status_code == 200 and download.content.startswith(b"\x89PNG")


def test_the_agent_replies_notes_assigns_and_closes_through_the_services(
    desk, agent, django_capture_on_commit_callbacks
):
    customer = UserFactory()
    request = _open(customer)
    act = lambda action: reverse("admin:support_supportrequest_act", args=[request.pk, action])  # noqa: E731
    with django_capture_on_commit_callbacks(execute=True):
        desk.post(act("reply"), {"message": "We fixed it.", "waiting_on_customer": "on"})
    request.refresh_from_db()
    assert request.status == Status.WAITING
    assert mail.outbox[-1].to == [customer.email] and "We fixed it." in mail.outbox[-1].body
    desk.post(act("note"), {"text": "Check again Monday."})
    assert SupportMessage.objects.get(internal=True).author == agent
    desk.post(act("assign"), {"assignee": agent.pk})
    desk.post(act("status"), {"status": "closed"})
    request.refresh_from_db()
    assert request.assigned_to == agent and request.status == Status.CLOSED
    actions = set(
        AuditEvent.objects.filter(actor_id=agent.pk, target_id=str(request.pk)).values_list(
            "action", flat=True
        )
    )
    assert {
        SupportAction.STAFF_REPLIED,
        SupportAction.NOTE_ADDED,
        SupportAction.ASSIGNED,
        SupportAction.CLOSED,
    } <= actions


def test_staff_without_the_support_permissions_cannot_open_or_work_the_queue():
    outsider = admin_client_with_mfa(UserFactory(is_staff=True))
    request = _open()
    assert outsider.get(reverse("admin:support_supportrequest_changelist")).status_code == 403
    url = reverse("admin:support_supportrequest_act", args=[request.pk, "reply"])
    response = outsider.post(url, {"message": "hi"})
    assert response.status_code in (403, 404)
    assert SupportMessage.objects.count() == 1


def test_unconfirmed_public_requests_are_not_in_the_queue(desk):
    from support.services import support_request_submit_public

    request, _ = support_request_submit_public(
        email="p@example.com", name="", reason="locked_out", subject="Unconfirmed", message="m"
    )
    page = desk.get(reverse("admin:support_supportrequest_changelist")).content.decode()
    assert "Unconfirmed" not in page
    url = reverse("admin:support_supportrequest_change", args=[request.pk])
    assert desk.get(url).status_code in (302, 404)
    assert SupportRequest.objects.get().status == Status.UNCONFIRMED


def test_a_public_request_shows_the_account_of_its_verified_address_unlinked(desk, agent):
    from support.services import support_request_confirm, support_request_submit_public

    owner = UserFactory(email="owner@example.com")
    WorkspaceFactory(owner=owner, name="Owner WS")
    _, token = support_request_submit_public(
        email="OWNER@example.com", name="", reason="lost_mfa", subject="Lost phone", message="m"
    )
    request = support_request_confirm(token=token)
    html = desk.get(reverse("admin:support_supportrequest_change", args=[request.pk])).content
    assert b"Owner WS" in html and b"identity is not checked yet" in html
    request.refresh_from_db()
    assert request.user_id is None
    seen = audit_events_for_user(user=owner).filter(action=SupportAction.ACCOUNT_VIEWED)
    assert seen.count() == 1


def test_a_staff_reply_can_carry_a_file_the_requester_then_downloads(desk):
    from django.test import Client

    from .conftest import text_file

    customer = UserFactory()
    request = _open(customer)
    url = reverse("admin:support_supportrequest_act", args=[request.pk, "reply"])
    desk.post(url, {"message": "Steps attached.", "attachments": [text_file("steps.txt")]})
    attachment = request.attachments.get()
    assert attachment.message.from_staff and attachment.file_name == "steps.txt"
    browser = Client()
    browser.force_login(customer)
    download = browser.get(reverse("support_attachment", args=[request.pk, attachment.pk]))
    assert download.status_code == 200 and download.content == b"error 42 at 12:00\n"
