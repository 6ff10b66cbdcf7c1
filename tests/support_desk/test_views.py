import pytest
from django.test import Client
from django.urls import reverse

from apikeys.keys.services import api_key_create
from support.models import Status, SupportAttachment, SupportMessage, SupportRequest
from support.services import support_note_add, support_request_create, support_staff_reply
from tests.factories import UserFactory, WorkspaceFactory

from .conftest import PNG, png

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_in(user):
    client = Client()
    client.force_login(user)
    return client


def _open(user, **kwargs):
    fields = {"subject": "Help", "category": "other", "message": "Please help."}
    return support_request_create(user=user, **{**fields, **kwargs})


def test_contact_support_is_linked_from_signed_in_pages(signed_in):
    for url in ("/", reverse("profile"), reverse("privacy_center")):
        assert reverse("support_create") in signed_in.get(url).content.decode()


def test_the_form_offers_only_the_persons_own_workspaces_and_keys(signed_in, user):
    mine = WorkspaceFactory(owner=user, name="Mine")
    api_key_create(
        workspace=mine, actor=user, name="my key", environment="production", scopes=["inference"]
    )
    theirs = WorkspaceFactory(name="Theirs")
    page = signed_in.get(reverse("support_create")).content.decode()
    assert "Mine" in page and "my key" in page
    assert "Theirs" not in page and str(theirs.pk) not in page


def test_opening_a_request_with_an_attachment_and_reading_the_thread(signed_in, user):
    mine = WorkspaceFactory(owner=user, name="Mine")
    response = signed_in.post(
        reverse("support_create"),
        {
            "subject": "Dashboard error",
            "category": "api_keys",
            "workspace": str(mine.pk),
            "api_key": "",
            "message": "See the screenshot.",
            "attachments": [png()],
        },
    )
    request = SupportRequest.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("support_detail", args=[request.pk])
    attachment = SupportAttachment.objects.get()
    page = signed_in.get(response["Location"]).content.decode()
    assert "See the screenshot." in page and "screenshot.png" in page
    download = signed_in.get(reverse("support_attachment", args=[request.pk, attachment.pk]))
    assert download.status_code == 200
    assert download.content == PNG
    assert download["Content-Disposition"].startswith("attachment")
    assert "Dashboard error" in signed_in.get(reverse("support_list")).content.decode()


def test_a_workspace_id_that_is_not_offered_is_refused(signed_in):
    theirs = WorkspaceFactory(name="Theirs")
    response = signed_in.post(
        reverse("support_create"),
        {"subject": "s", "category": "other", "workspace": str(theirs.pk), "message": "m"},
    )
    assert response.status_code == 200 and SupportRequest.objects.count() == 0


def test_a_disguised_file_is_refused_on_the_page(signed_in):
    response = signed_in.post(
        reverse("support_create"),
        {
            "subject": "s",
            "category": "other",
            "message": "m",
            "attachments": [png("run.png", b"#!/bin/sh\x00rm -rf /")],
        },
    )
    assert response.status_code == 200
    assert "only images" in response.content.decode()
    assert SupportRequest.objects.count() == 0


def test_reply_reopens_and_close_closes(signed_in, user):
    staff = UserFactory(is_staff=True)
    request = support_staff_reply(request=_open(user), actor=staff, message="Fixed?")
    signed_in.post(reverse("support_close", args=[request.pk]))
    request.refresh_from_db()
    assert request.status == Status.CLOSED
    response = signed_in.post(reverse("support_reply", args=[request.pk]), {"message": "No."})
    assert response.status_code == 302
    request.refresh_from_db()
    assert request.status == Status.OPEN


def test_staff_notes_never_reach_the_requesters_page(signed_in, user):
    request = _open(user)
    support_note_add(request=request, actor=UserFactory(is_staff=True), text="SECRET-NOTE")
    page = signed_in.get(reverse("support_detail", args=[request.pk])).content.decode()
    assert "SECRET-NOTE" not in page


def test_a_privacy_request_is_offered_for_the_privacy_category(signed_in, user):
    request = _open(user, category="privacy")
    page = signed_in.get(reverse("support_detail", args=[request.pk])).content.decode()
    assert "data-privacy-offer" in page and reverse("privacy_request_create") in page
    other = _open(user, category="billing")
    page = signed_in.get(reverse("support_detail", args=[other.pk])).content.decode()
    assert "data-privacy-offer" not in page


def test_someone_elses_request_is_404_on_every_page(signed_in):
    owner = UserFactory()
    request = _open(owner, attachments=[png()])
    attachment = SupportAttachment.objects.get()
    for url in (
        reverse("support_detail", args=[request.pk]),
        reverse("support_attachment", args=[request.pk, attachment.pk]),
    ):
        assert signed_in.get(url).status_code == 404
    for url in (
        reverse("support_reply", args=[request.pk]),
        reverse("support_close", args=[request.pk]),
    ):
        assert signed_in.post(url, {"message": "x"}).status_code == 404
    assert SupportMessage.objects.count() == 1
    request.refresh_from_db()
    assert request.status == Status.OPEN


def test_anonymous_people_are_sent_to_sign_in(client, user):
    request = _open(user)
    response = client.get(reverse("support_detail", args=[request.pk]))
    assert response.status_code == 302 and "login" in response["Location"]


def test_the_public_form_confirms_by_link_and_limits_per_address(
    client, django_capture_on_commit_callbacks
):
    from django.core import mail

    fields = {
        "email": "lockedout@example.com",
        "name": "",
        "reason": "lost_mfa",
        "subject": "Lost phone",
        "message": "Lost my phone and codes.",
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("support_public"), fields)
    assert response.status_code == 200 and "Check your email" in response.content.decode()
    assert SupportRequest.objects.received().count() == 0
    link = next(
        line for line in mail.outbox[0].body.splitlines() if "/support/public/confirm/" in line
    )
    path = link.strip().split("127.0.0.1:8000", 1)[-1]
    assert client.get(path).status_code == 200
    assert SupportRequest.objects.received().count() == 0  # a GET (link scanner) does nothing
    assert client.post(path).status_code == 200
    assert SupportRequest.objects.received().get().status == Status.OPEN
    assert client.post(path).status_code == 404
    statuses = [
        Client(REMOTE_ADDR=f"198.51.100.{n}").post(reverse("support_public"), fields).status_code
        for n in range(4)
    ]
    assert statuses[:2] == [200, 200] and statuses[-1] == 429


def test_the_public_form_is_limited_per_client_address(client):
    fields = {"email": "x@example.com", "reason": "other", "subject": "s", "message": "m"}
    statuses = [
        client.post(reverse("support_public"), {**fields, "email": f"p{n}@example.com"}).status_code
        for n in range(7)
    ]
    assert statuses[:5] == [200] * 5 and statuses[5:] == [429, 429]
