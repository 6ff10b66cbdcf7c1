import json
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from accounts.audit import Action
from accounts.models import AuditEvent, OutboundEmail
from accounts.webhooks import events
from accounts.webhooks.delivery import (
    DEFAULT_RETRY_SCHEDULE,
    webhook_message_deliver,
    webhook_messages_sweep,
)
from accounts.webhooks.models import WebhookAttempt, WebhookMessage, WebhookMessageStatus
from accounts.webhooks.services import (
    webhook_endpoint_create,
    webhook_endpoint_rotate_secret,
    webhook_message_enqueue,
    webhook_message_resend,
)
from tests.accounts.webhooks.receiver import Answer

pytestmark = pytest.mark.django_db


@pytest.fixture
def endpoint_and_secret(workspace, user, receiver):
    return webhook_endpoint_create(
        workspace=workspace,
        url=receiver.url,
        event_types=[events.API_KEY_CREATED],
        description="test receiver",
        actor=user,
    )


@pytest.fixture
def message(endpoint_and_secret):
    endpoint, _ = endpoint_and_secret
    return webhook_message_enqueue(
        endpoint=endpoint, event_type=events.API_KEY_CREATED, data={"key_id": "k1"}
    )


def _verify(secret, received):
    return Webhook(secret).verify(received.body, received.headers)


def _sweep_and_run(django_capture_on_commit_callbacks) -> int:
    with django_capture_on_commit_callbacks(execute=True):
        return webhook_messages_sweep()


def test_a_delivery_carries_standard_webhooks_headers_the_library_verifies(
    endpoint_and_secret, message, receiver
):
    _, secret = endpoint_and_secret
    assert webhook_message_deliver(message_id=message.pk) is True

    [received] = receiver.received
    assert received.headers["webhook-id"] == message.pk
    assert received.headers["content-type"] == "application/json"
    payload = _verify(secret, received)
    assert payload["type"] == events.API_KEY_CREATED
    assert payload["schema_version"] == 1
    assert payload["data"] == {"key_id": "k1"}
    message.refresh_from_db()
    assert message.status == WebhookMessageStatus.DELIVERED
    [attempt] = WebhookAttempt.objects.filter(message=message)
    assert (attempt.number, attempt.status_code, attempt.succeeded) == (1, 204, True)
    assert attempt.latency_ms >= 0


def test_a_forged_signature_does_not_verify(endpoint_and_secret, message, receiver):
    webhook_message_deliver(message_id=message.pk)
    [received] = receiver.received
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "B" * 43 + "=").verify(received.body, received.headers)


def test_failures_are_retried_with_backoff_until_delivered_with_the_same_id(
    endpoint_and_secret, message, receiver, django_capture_on_commit_callbacks
):
    receiver.plan(Answer(status=500, body=b"database down"), Answer(status=503))
    with time_machine.travel(timezone.now(), tick=False) as clock:
        start = timezone.now()
        assert webhook_message_deliver(message_id=message.pk) is False
        message.refresh_from_db()
        assert message.status == WebhookMessageStatus.PENDING
        first_wait = message.next_attempt_at - start
        assert timedelta(seconds=4.5) <= first_wait <= timedelta(seconds=5.5)
        # Not due yet: the sweep leaves it.
        assert _sweep_and_run(django_capture_on_commit_callbacks) == 0

        clock.shift(6)
        assert _sweep_and_run(django_capture_on_commit_callbacks) == 1
        message.refresh_from_db()
        second_wait = message.next_attempt_at - timezone.now()
        assert timedelta(seconds=270) <= second_wait <= timedelta(seconds=330)

        clock.shift(331)
        assert _sweep_and_run(django_capture_on_commit_callbacks) == 1

    message.refresh_from_db()
    assert message.status == WebhookMessageStatus.DELIVERED
    assert len(receiver.received) == 3
    assert {r.headers["webhook-id"] for r in receiver.received} == {message.pk}
    log = list(WebhookAttempt.objects.filter(message=message).order_by("number"))
    assert [(a.number, a.status_code, a.succeeded) for a in log] == [
        (1, 500, False),
        (2, 503, False),
        (3, 204, True),
    ]
    assert log[0].response_excerpt == "database down"
    assert log[0].error == "HTTP 500"


def test_the_schedule_lasts_about_three_days():
    total = sum(DEFAULT_RETRY_SCHEDULE)
    assert timedelta(days=2.5) < timedelta(seconds=total) < timedelta(days=4)


def test_a_message_is_given_up_on_when_the_schedule_runs_out(
    endpoint_and_secret, message, receiver, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_RETRY_SCHEDULE_SECONDS = [1, 1]
    receiver.default = Answer(status=500)
    with time_machine.travel(timezone.now(), tick=False) as clock:
        webhook_message_deliver(message_id=message.pk)
        for _ in range(2):
            clock.shift(2)
            _sweep_and_run(django_capture_on_commit_callbacks)
    message.refresh_from_db()
    assert message.status == WebhookMessageStatus.FAILED
    assert message.attempts == 3
    clock_free_sweep = _sweep_and_run(django_capture_on_commit_callbacks)
    assert clock_free_sweep == 0
    assert len(receiver.received) == 3


def test_a_receiver_that_times_out_fails_the_attempt(
    endpoint_and_secret, message, receiver, settings
):
    settings.WEBHOOK_READ_TIMEOUT_SECONDS = 0.3
    receiver.plan(Answer(status=204, delay=1.5))
    assert webhook_message_deliver(message_id=message.pk) is False
    attempt = WebhookAttempt.objects.get(message=message)
    assert attempt.error == "Timed out." and attempt.status_code is None


def test_a_redirect_is_a_failed_attempt_and_is_not_followed(endpoint_and_secret, message, receiver):
    receiver.plan(
        Answer(status=302, headers={"Location": f"http://127.0.0.1:{receiver.port}/internal"})
    )
    assert webhook_message_deliver(message_id=message.pk) is False
    assert [r.path for r in receiver.received] == ["/hooks"]
    attempt = WebhookAttempt.objects.get(message=message)
    assert attempt.status_code == 302 and attempt.error == "Redirect not followed."


def test_an_endpoint_failing_for_three_days_is_disabled_and_its_owners_told(
    endpoint_and_secret, user, receiver, settings, django_capture_on_commit_callbacks
):
    endpoint, _ = endpoint_and_secret
    receiver.default = Answer(status=500)
    with time_machine.travel(timezone.now(), tick=False) as clock:
        first = webhook_message_enqueue(endpoint=endpoint, event_type="api_key.created", data={})
        webhook_message_deliver(message_id=first.pk)
        endpoint.refresh_from_db()
        assert endpoint.failing_since is not None and endpoint.enabled
        for _ in range(12):
            clock.shift(timedelta(hours=7))
            _sweep_and_run(django_capture_on_commit_callbacks)
    endpoint.refresh_from_db()
    assert not endpoint.enabled
    assert "3 days" in endpoint.disabled_reason
    assert AuditEvent.objects.filter(
        action=Action.WEBHOOK_ENDPOINT_DISABLED, target_id=str(endpoint.pk)
    ).exists()
    email = OutboundEmail.objects.get(subject__isnull=False)
    assert json.loads(email.recipients) == [user.email]
    assert "disabled" in email.subject and endpoint.url in email.body
    # A disabled endpoint receives nothing more: its due messages fail without a request.
    before = len(receiver.received)
    later = webhook_message_enqueue(endpoint=endpoint, event_type="api_key.created", data={})
    webhook_message_deliver(message_id=later.pk)
    later.refresh_from_db()
    assert later.status == WebhookMessageStatus.FAILED
    assert len(receiver.received) == before


def test_a_success_clears_the_failure_record(endpoint_and_secret, message, receiver):
    endpoint, _ = endpoint_and_secret
    receiver.plan(Answer(status=500))
    webhook_message_deliver(message_id=message.pk)
    endpoint.refresh_from_db()
    assert endpoint.failing_since is not None
    WebhookMessage.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now())
    webhook_message_deliver(message_id=message.pk)
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None


def test_resend_delivers_again_with_the_same_webhook_id(
    endpoint_and_secret, message, receiver, user, django_capture_on_commit_callbacks
):
    webhook_message_deliver(message_id=message.pk)
    with django_capture_on_commit_callbacks(execute=True):
        webhook_message_resend(message=message, actor=user)
    message.refresh_from_db()
    assert message.status == WebhookMessageStatus.DELIVERED
    assert message.attempts == 2
    assert [r.headers["webhook-id"] for r in receiver.received] == [message.pk, message.pk]
    assert AuditEvent.objects.filter(action=Action.WEBHOOK_MESSAGE_RESENT).count() == 1


def test_during_a_rotation_overlap_both_secrets_verify_and_after_it_only_the_new(
    endpoint_and_secret, receiver, user
):
    endpoint, old = endpoint_and_secret
    with time_machine.travel(timezone.now(), tick=False) as clock:
        endpoint, new = webhook_endpoint_rotate_secret(endpoint=endpoint, actor=user)
        during = webhook_message_enqueue(endpoint=endpoint, event_type="api_key.created", data={})
        webhook_message_deliver(message_id=during.pk)
        received = receiver.received[-1]
        assert len(received.headers["webhook-signature"].split(" ")) == 2
        assert _verify(old, received)["type"] == "api_key.created"
        assert _verify(new, received)["type"] == "api_key.created"

        clock.shift(timedelta(hours=24, seconds=1))
        after = webhook_message_enqueue(endpoint=endpoint, event_type="api_key.created", data={})
        webhook_message_deliver(message_id=after.pk)
        received = receiver.received[-1]
        assert len(received.headers["webhook-signature"].split(" ")) == 1
        assert _verify(new, received)["type"] == "api_key.created"
        with pytest.raises(WebhookVerificationError):
            _verify(old, received)


def test_a_message_under_a_live_claim_is_not_delivered_twice(message, receiver):
    WebhookMessage.objects.filter(pk=message.pk).update(
        status=WebhookMessageStatus.SENDING,
        claimed_until=timezone.now() + timedelta(minutes=2),
        claim_token="someone-else",
    )
    assert webhook_message_deliver(message_id=message.pk) is False
    assert receiver.received == []


def test_the_sweep_hands_on_a_message_whose_worker_died_mid_delivery(
    message, receiver, django_capture_on_commit_callbacks
):
    WebhookMessage.objects.filter(pk=message.pk).update(
        status=WebhookMessageStatus.SENDING,
        claimed_until=timezone.now() - timedelta(seconds=1),
        claim_token="dead-worker",
        attempts=1,
        round_attempts=1,
    )
    assert _sweep_and_run(django_capture_on_commit_callbacks) == 1
    message.refresh_from_db()
    assert message.status == WebhookMessageStatus.DELIVERED
    assert [r.headers["webhook-id"] for r in receiver.received] == [message.pk]


def test_the_sweep_sends_a_message_whose_broker_message_was_lost(
    message, receiver, django_capture_on_commit_callbacks
):
    with time_machine.travel(timezone.now() + timedelta(seconds=61), tick=False):
        assert _sweep_and_run(django_capture_on_commit_callbacks) == 1
    message.refresh_from_db()
    assert message.status == WebhookMessageStatus.DELIVERED
