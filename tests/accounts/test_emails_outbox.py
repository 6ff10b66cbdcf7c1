"""The outbox in-process: encryption at rest, claims, retries, the sweep, hooks, purge."""

import json
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone

from accounts import emails
from accounts.emails import (
    email_enqueue_rendered,
    email_sent_hook_register,
    outbound_email_send,
    outbound_emails_sweep,
)
from accounts.models import OutboundEmail, OutboundEmailStatus
from privacy.retention.services import retention_run
from tests.factories import UserFactory
from tests.support import admin_client_with_mfa

pytestmark = pytest.mark.django_db


def queued(**kwargs) -> OutboundEmail:
    defaults = {"to": ["a@example.com"], "subject": "Hi", "body": "Link: https://x/t0k3n"}
    return email_enqueue_rendered(**{**defaults, **kwargs})


def test_recipients_subject_and_body_are_encrypted_at_rest():
    email = queued()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT recipients, subject, body FROM accounts_outboundemail WHERE id = %s",
            [email.pk],
        )
        stored = cursor.fetchone()
    assert all("example.com" not in v and "t0k3n" not in v and v != "Hi" for v in stored)
    email.refresh_from_db()
    assert json.loads(email.recipients) == ["a@example.com"]


def test_a_rolled_back_change_takes_its_email_with_it():
    from django.db import transaction

    with pytest.raises(RuntimeError), transaction.atomic():
        queued()
        raise RuntimeError
    assert not OutboundEmail.objects.exists()


def test_sending_twice_delivers_once(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        email = queued()
    assert outbound_email_send(email_id=email.pk) is True
    assert outbound_email_send(email_id=email.pk) is False
    assert len(mail.outbox) == 1
    email.refresh_from_db()
    assert email.status == OutboundEmailStatus.SENT and email.attempts == 1


def test_a_failure_backs_off_then_gives_up(
    settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.EMAIL_OUTBOX_MAX_ATTEMPTS = 2

    def refuse(**kwargs):
        raise ConnectionRefusedError("mail server down")

    monkeypatch.setattr(emails, "email_send_now", refuse)
    with django_capture_on_commit_callbacks(execute=False):
        email = queued()
    with pytest.raises(ConnectionRefusedError):
        outbound_email_send(email_id=email.pk)
    email.refresh_from_db()
    assert email.status == OutboundEmailStatus.PENDING
    assert email.next_attempt_at > timezone.now()
    assert email.last_error == "ConnectionRefusedError"
    with pytest.raises(ConnectionRefusedError):
        outbound_email_send(email_id=email.pk)
    email.refresh_from_db()
    assert email.status == OutboundEmailStatus.FAILED


def test_sweep_sends_what_was_left_behind_and_respects_a_live_lease(
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=False):
        lost = queued(to=["lost@example.com"])
        dead = queued(to=["dead@example.com"])
        busy = queued(to=["busy@example.com"])
    now = timezone.now()
    OutboundEmail.objects.filter(pk=lost.pk).update(next_attempt_at=now - timedelta(seconds=1))
    OutboundEmail.objects.filter(pk=dead.pk).update(
        status=OutboundEmailStatus.SENDING, claimed_until=now - timedelta(seconds=1)
    )
    OutboundEmail.objects.filter(pk=busy.pk).update(
        status=OutboundEmailStatus.SENDING, claimed_until=now + timedelta(minutes=5)
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert outbound_emails_sweep() == 2
    assert sorted(m.to[0] for m in mail.outbox) == ["dead@example.com", "lost@example.com"]
    assert OutboundEmail.objects.get(pk=busy.pk).status == OutboundEmailStatus.SENDING


def test_on_sent_hooks_run_when_the_email_is_sent_not_when_queued(
    django_capture_on_commit_callbacks,
):
    calls = []
    email_sent_hook_register("test.kind", lambda *, ref, sent_at: calls.append((ref, sent_at)))
    try:
        with django_capture_on_commit_callbacks(execute=False):
            email = queued(kind="test.kind", ref="42")
        assert calls == []
        outbound_email_send(email_id=email.pk)
        email.refresh_from_db()
        assert calls == [("42", email.sent_at)]
    finally:
        emails.EMAIL_SENT_HOOKS.pop("test.kind")


def test_delivered_emails_are_purged_after_the_configured_days(
    settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_OUTBOX_KEEP_DAYS = 2
    with django_capture_on_commit_callbacks(execute=False):
        old, recent, waiting = queued(), queued(), queued()
    now = timezone.now()
    OutboundEmail.objects.filter(pk=old.pk).update(
        status=OutboundEmailStatus.SENT, sent_at=now - timedelta(days=3)
    )
    OutboundEmail.objects.filter(pk=recent.pk).update(
        status=OutboundEmailStatus.SENT, sent_at=now - timedelta(days=1)
    )
    OutboundEmail.objects.filter(pk=waiting.pk).update(created_at=now - timedelta(days=30))
    retention_run(now=now)
    assert set(OutboundEmail.objects.values_list("pk", flat=True)) == {recent.pk, waiting.pk}


def test_admin_shows_the_state_never_the_content():
    admin_client = admin_client_with_mfa(
        UserFactory(is_staff=True, is_superuser=True, email="root@example.com")
    )
    email = queued()
    page = admin_client.get(f"/admin/accounts/outboundemail/{email.pk}/change/")
    listing = admin_client.get("/admin/accounts/outboundemail/")
    for response in (page, listing):
        assert response.status_code == 200
        assert b"a@example.com" not in response.content
        assert b"t0k3n" not in response.content
