"""Outgoing email: header text is always one safe line, and mail waits for the commit."""

import pytest
from django.core import mail

from accounts.emails import email_enqueue, email_render, email_send_now
from accounts.tasks import send_email

INJECTION = "leaky\nBcc: attacker@example.net"


def _headers(message) -> str:
    return message.message().as_string().split("\n\n", 1)[0]


def test_a_subject_rendered_from_user_text_is_one_line():
    subject, _body = email_render(
        template="apikeys/email/key_leaked",
        context={"workspace_name": "W", "key_name": INJECTION, "key_display": "k", "source": ""},
    )
    assert "\n" not in subject and "\r" not in subject
    assert (
        subject
        == 'API key "leaky Bcc: attacker@example.net" was reported as leaked and has been revoked'
    )


def test_a_subject_with_a_line_break_is_sent_on_one_line_without_extra_recipients():
    email_send_now(to=["owner@example.com"], subject=INJECTION, body="Body")
    [message] = mail.outbox
    assert message.subject == "leaky Bcc: attacker@example.net"
    assert message.to == ["owner@example.com"]
    assert message.bcc == []
    assert "attacker@example.net" not in message.recipients()
    headers = _headers(message)
    assert "\nBcc:" not in headers
    assert "Subject: leaky Bcc: attacker@example.net" in headers


def test_a_task_queued_with_an_unsafe_subject_still_delivers():
    # A message rendered before subjects were cleaned may still sit in the queue.
    send_email.delay(to=["owner@example.com"], subject="Key \u202eteg\r\nX-Evil: 1", body="Body")
    [message] = mail.outbox
    assert message.subject == "Key teg X-Evil: 1"
    assert "\nX-Evil:" not in _headers(message)


def test_a_very_long_subject_is_shortened():
    email_send_now(to=["owner@example.com"], subject="x" * 5000, body="Body")
    assert len(mail.outbox[0].subject) == 200


def test_recipients_that_could_break_a_header_are_dropped_and_the_rest_still_get_mail():
    email_send_now(
        to=["owner@example.com", "other@example.com\nBcc: attacker@example.net"],
        subject="Hello",
        body="Body",
    )
    [message] = mail.outbox
    assert message.recipients() == ["owner@example.com"]


def test_no_mail_at_all_when_no_recipient_is_safe():
    email_send_now(to=["a@example.com\r\nBcc: b@example.net"], subject="Hello", body="Body")
    assert mail.outbox == []


@pytest.mark.django_db
def test_enqueued_mail_waits_for_the_commit_and_goes_out_with_a_clean_subject(
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks() as callbacks:
        email_enqueue(
            to=["owner@example.com"],
            template="apikeys/email/key_leaked",
            context={"workspace_name": "W", "key_name": INJECTION, "key_display": "k"},
        )
    assert mail.outbox == []
    assert len(callbacks) == 1
    callbacks[0]()
    [message] = mail.outbox
    assert "\n" not in message.subject
    assert message.recipients() == ["owner@example.com"]
