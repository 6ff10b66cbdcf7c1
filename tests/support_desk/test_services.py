from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from accounts.errors import Conflict, DomainError, NotFound
from accounts.models import AuditEvent
from accounts.permissions import Role
from apikeys.keys.services import api_key_create
from support import files
from support.models import Status, SupportAttachment, SupportMessage, SupportRequest
from support.services import (
    SupportAction,
    support_account_summary,
    support_note_add,
    support_queue_figures,
    support_request_assign,
    support_request_close,
    support_request_confirm,
    support_request_create,
    support_request_reply,
    support_request_set_status,
    support_request_submit_public,
    support_requests_over_target,
    support_requests_remind_staff,
    support_staff_reply,
)
from tests.factories import UserFactory, WorkspaceFactory, add_member

from .conftest import PNG, png, text_file

pytestmark = pytest.mark.django_db


def _open(user, **kwargs):
    fields = {"subject": "Key refused", "category": "api_keys", "message": "My key fails."}
    return support_request_create(user=user, **{**fields, **kwargs})


@pytest.fixture
def staff(db):
    """A support agent: staff in the Support role."""
    from django.contrib.auth.models import Group

    agent = UserFactory(is_staff=True)
    agent.groups.add(Group.objects.get(name="Support"))
    return agent


def test_a_request_stores_personal_text_encrypted_and_waits_on_staff(user):
    request = _open(user, subject="Cannot rotate", message="Rotation fails with 409.")
    assert request.status == Status.OPEN and request.waiting_since is not None
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT subject FROM support_supportrequest WHERE id = %s", [request.pk])
        stored = cursor.fetchone()[0]
        cursor.execute(
            "SELECT body FROM support_supportmessage WHERE request_id = %s", [request.pk]
        )
        body = cursor.fetchone()[0]
    assert stored.startswith("enc1:") and "rotate" not in stored
    assert body.startswith("enc1:") and "409" not in body
    assert AuditEvent.objects.filter(action=SupportAction.CREATED, subject_user_id=user.pk).exists()


def test_attachments_are_sniffed_limited_and_encrypted_on_disk(user, settings):
    request = _open(user, attachments=[png(), text_file()])
    attachments = sorted(
        SupportAttachment.objects.filter(request=request), key=lambda a: a.content_type
    )
    assert [(a.file_name, a.content_type) for a in attachments] == [
        ("screenshot.png", "image/png"),
        ("log.txt", "text/plain"),
    ]
    for attachment in attachments:
        raw = files.path_for(attachment.pk).read_bytes()
        assert raw.startswith(b"enc1:") and PNG not in raw and b"error 42" not in raw
    assert files.file_read(attachment_id=attachments[0].pk) == PNG


@pytest.mark.parametrize(
    ("upload", "why"),
    [
        (png("evil.png", b"MZ\x90\x00\x03" + b"\x00" * 50), "only images"),
        (png("shot.exe", PNG), "does not match"),
        (png("notes.txt", PNG), "does not match"),
        (png("empty.png", b""), "empty"),
    ],
)
def test_files_whose_content_is_not_accepted_are_refused_and_nothing_is_stored(user, upload, why):
    with pytest.raises(DomainError) as error:
        _open(user, attachments=[upload])
    assert why in error.value.message
    assert SupportRequest.objects.count() == 0 and SupportAttachment.objects.count() == 0


def test_too_many_or_too_large_files_are_refused(user, settings):
    with pytest.raises(DomainError):
        _open(user, attachments=[text_file(f"{n}.txt") for n in range(4)])
    settings.SUPPORT_ATTACHMENT_MAX_BYTES = 10
    with pytest.raises(DomainError):
        _open(user, attachments=[text_file(data=b"x" * 11)])
    assert SupportRequest.objects.count() == 0


def test_file_names_are_made_safe_for_headers_and_pages():
    assert files.safe_name("../../etc/pass\r\nwd.txt") == "pass_wd.txt"
    assert files.safe_name("C:\\Users\\me\\log.txt") == "log.txt"
    assert files.safe_name("") == "file"


def test_workspace_and_key_must_be_the_requesters_own(user):
    mine = WorkspaceFactory(owner=user, name="Mine")
    key, _ = api_key_create(
        workspace=mine, actor=user, name="prod", environment="production", scopes=["inference"]
    )
    other_owner = UserFactory()
    theirs = WorkspaceFactory(owner=other_owner, name="Theirs")
    their_key, _ = api_key_create(
        workspace=theirs,
        actor=other_owner,
        name="x",
        environment="production",
        scopes=["inference"],
    )
    request = _open(user, workspace_id=mine.pk, api_key_id=key.public_id)
    assert request.workspace == mine and request.api_key == key
    for kwargs in (
        {"workspace_id": theirs.pk},
        {"workspace_id": mine.pk, "api_key_id": their_key.public_id},
        {"workspace_id": theirs.pk, "api_key_id": their_key.public_id},
        {"api_key_id": their_key.public_id},
        {"api_key_id": "no-such-key"},
    ):
        with pytest.raises(DomainError):
            _open(user, **kwargs)
    assert SupportRequest.objects.count() == 1
    # A key alone names its workspace.
    assert _open(user, api_key_id=key.public_id).workspace == mine


def test_a_viewer_cannot_name_a_key_but_can_name_the_workspace(user):
    workspace = WorkspaceFactory(name="Shared")
    add_member(workspace, role=Role.VIEWER, user=user)
    key, _ = api_key_create(
        workspace=workspace,
        actor=workspace.memberships.get(role=Role.OWNER).user,
        name="k",
        environment="development",
        scopes=["inference"],
    )
    assert _open(user, workspace_id=workspace.pk).workspace == workspace
    # Viewers may see keys (keys.view), so naming one is allowed too.
    assert _open(user, workspace_id=workspace.pk, api_key_id=key.public_id).api_key == key


def test_staff_reply_is_emailed_with_a_link_and_answers_the_request(
    user, staff, django_capture_on_commit_callbacks
):
    request = _open(user)
    with django_capture_on_commit_callbacks(execute=True):
        support_staff_reply(request=request, actor=staff, message="Try rotating it.")
    request.refresh_from_db()
    assert request.status == Status.ANSWERED and request.first_response_at
    assert request.waiting_since is None
    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert sent.to == [user.email] and "Try rotating it." in sent.body
    assert f"/support/{request.pk}/" in sent.body


def test_asking_for_something_sets_waiting_on_you(user, staff):
    request = support_staff_reply(
        request=_open(user), actor=staff, message="Which key?", waiting_on_customer=True
    )
    assert request.status == Status.WAITING


def test_replying_reopens_even_a_closed_request(user, staff):
    request = support_staff_reply(request=_open(user), actor=staff, message="Done.")
    request = support_request_close(request=request, user=user)
    assert request.status == Status.CLOSED and request.closed_at
    with pytest.raises(Conflict):
        support_request_close(request=request, user=user)
    request = support_request_reply(request=request, user=user, message="Still broken.")
    assert request.status == Status.OPEN and request.closed_at is None
    assert request.waiting_since is not None


def test_nobody_else_can_reply_to_or_close_a_request(user):
    request = _open(user)
    stranger = UserFactory()
    with pytest.raises(NotFound):
        support_request_reply(request=request, user=stranger, message="hi")
    with pytest.raises(NotFound):
        support_request_close(request=request, user=stranger)
    assert SupportMessage.objects.filter(request=request).count() == 1


def test_notes_stay_internal_and_out_of_the_requesters_activity(user, staff):
    request = _open(user)
    support_note_add(request=request, actor=staff, text="Customer is on the old SDK.")
    support_request_assign(request=request, actor=staff, assignee=staff)
    assert SupportMessage.objects.get(internal=True).body == "Customer is on the old SDK."
    note_events = AuditEvent.objects.filter(
        action__in=[SupportAction.NOTE_ADDED, SupportAction.ASSIGNED]
    )
    assert note_events.count() == 2
    assert not note_events.filter(subject_user_id=user.pk).exists()


def test_only_active_staff_can_be_assigned(user, staff):
    with pytest.raises(DomainError):
        support_request_assign(request=_open(user), actor=staff, assignee=UserFactory())


def test_staff_status_changes_are_audited(user, staff):
    request = support_request_set_status(request=_open(user), actor=staff, status=Status.CLOSED)
    assert request.status == Status.CLOSED
    request = support_request_set_status(request=request, actor=staff, status=Status.OPEN)
    assert request.status == Status.OPEN and request.closed_at is None
    with pytest.raises(DomainError):
        support_request_set_status(request=request, actor=staff, status="unconfirmed")
    assert (
        AuditEvent.objects.filter(
            action__in=[SupportAction.CLOSED, SupportAction.STATUS_CHANGED], actor_id=staff.pk
        ).count()
        == 2
    )


def test_account_summary_has_no_secrets_and_is_an_access_event_on_the_activity_log(user, staff):
    workspace = WorkspaceFactory(owner=user, name="Prod")
    key, full_key = api_key_create(
        workspace=workspace,
        actor=user,
        name="backend",
        environment="production",
        scopes=["inference"],
    )
    summary = support_account_summary(request=_open(user), actor=staff)
    assert summary["workspaces"] == [{"name": "Prod", "role": "Owner", "id": workspace.pk}]
    assert [k["name"] for k in summary["keys"]] == ["backend"]
    assert full_key not in repr(summary) and key.secret_hash not in repr(summary)
    from accounts.selectors import audit_events_for_user

    seen = audit_events_for_user(user=user).filter(action=SupportAction.ACCOUNT_VIEWED)
    assert seen.count() == 1 and seen.get().actor_id == staff.pk


def test_public_request_reaches_staff_only_once_the_address_is_confirmed(
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        request, token = support_request_submit_public(
            email="Locked@Example.com",
            name="Lou",
            reason="lost_mfa",
            subject="Lost my phone",
            message="I lost my phone and my codes.",
        )
    assert request.status == Status.UNCONFIRMED
    assert not SupportRequest.objects.received().exists()
    assert token in mail.outbox[0].body and token not in request.confirmation_token_hash
    confirmed = support_request_confirm(token=token)
    assert confirmed.status == Status.OPEN and confirmed.received_at
    assert confirmed.email == "locked@example.com"
    with pytest.raises(NotFound):
        support_request_confirm(token=token)


def test_an_expired_confirmation_link_does_nothing():
    with time_machine.travel("2026-03-01 10:00:00+00:00", tick=False):
        _, token = support_request_submit_public(
            email="a@example.com", name="", reason="locked_out", subject="s", message="m"
        )
    with time_machine.travel("2026-03-03 10:00:00+00:00", tick=False), pytest.raises(NotFound):
        support_request_confirm(token=token)


def test_targets_reminders_and_figures(user, staff, settings, django_capture_on_commit_callbacks):
    settings.SUPPORT_TARGETS = {
        "default": {"first_response_hours": 24, "resolution_hours": 120},
        "abuse": {"first_response_hours": 4, "resolution_hours": 48},
    }
    settings.SUPPORT_REMIND_BEFORE_HOURS = 1
    start = timezone.now() - timedelta(hours=10)
    with time_machine.travel(start, tick=False):
        abuse = _open(user, category="abuse")
        other = _open(user, category="other")
    with time_machine.travel(start + timedelta(hours=3, minutes=30), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            counts = support_requests_remind_staff()
        assert counts["response_due_soon"] == 1
        assert support_requests_remind_staff()["response_due_soon"] == 0  # sent once
    with django_capture_on_commit_callbacks(execute=True):
        counts = support_requests_remind_staff()
    assert counts["response_overdue"] == 1
    assert staff.email in mail.outbox[-1].to
    over = support_requests_over_target(SupportRequest.objects.all())
    assert list(over) == [abuse]
    support_staff_reply(request=other, actor=staff, message="On it.")
    figures = support_queue_figures()
    assert figures["median_first_response_hours"] == pytest.approx(10, abs=0.1)
    assert figures["open_by_age"]["under 1 day"] == 2
    assert figures["waiting_on_staff"] == 1 and figures["over_target"] == 1


def test_a_reply_to_someone_without_an_account_says_how_to_answer(
    staff, django_capture_on_commit_callbacks
):
    _, token = support_request_submit_public(
        email="out@example.com", name="", reason="locked_out", subject="Locked", message="m"
    )
    request = support_request_confirm(token=token)
    with django_capture_on_commit_callbacks(execute=True):
        support_staff_reply(request=request, actor=staff, message="Which key prefix?")
    body = mail.outbox[-1].body
    assert mail.outbox[-1].to == ["out@example.com"]
    assert "/support/public/" in body and str(request.pk) in body
    assert f"/support/{request.pk}/" not in body


def test_an_abuse_report_about_someone_elses_key_never_reaches_the_reported_party(staff):
    reported = UserFactory()
    their_workspace = WorkspaceFactory(owner=reported, name="Reported")
    their_key, _ = api_key_create(
        workspace=their_workspace,
        actor=reported,
        name="leaky",
        environment="production",
        scopes=["inference"],
    )
    before = AuditEvent.objects.filter(workspace_id=their_workspace.pk).count()
    reporter = UserFactory()
    report = support_request_create(
        user=reporter,
        subject="A key of yours is on a public page",
        category="abuse",
        message=f"Key {their_key.public_id} is pasted in a public repository.",
    )
    support_account_summary(request=report, actor=staff)
    support_note_add(request=report, actor=staff, text="Revoking through the leak flow.")
    support_staff_reply(request=report, actor=staff, message="Thank you, handled.")
    assert AuditEvent.objects.filter(workspace_id=their_workspace.pk).count() == before
    from accounts.selectors import audit_events_for_user

    assert not audit_events_for_user(user=reported).filter(action__startswith="support").exists()
    assert not SupportRequest.objects.for_user(reported).exists()
