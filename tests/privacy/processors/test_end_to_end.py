"""A privacy request carried to two processors over real HTTP, one of them slow.

Each processor is a real receiver (a threaded HTTP server on a loopback port of its
own, which the test settings allow for webhooks) and verifies the Standard Webhooks
signature with the `standardwebhooks` library. The request waits while the slow one
has not answered, the reminder goes to it alone, and its callback completes the
request.
"""

import json
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone
from rest_framework.test import APIClient
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from accounts.webhooks.delivery import webhook_messages_sweep
from accounts.webhooks.models import WebhookAttempt
from privacy.processors.models import ActionState, ProcessorAction
from privacy.processors.services import processor_actions_remind
from privacy.requests.deadlines import Jurisdiction
from privacy.requests.models import RequestStatus, RequestType
from privacy.requests.services import privacy_request_submit
from tests.accounts.webhooks.receiver import Answer, Receiver
from tests.factories import UserFactory, WorkspaceFactory
from tests.privacy.processors.support import register_processor

pytestmark = pytest.mark.django_db


@pytest.fixture
def receivers():
    started = [Receiver().start(), Receiver().start()]
    yield started
    for receiver in started:
        receiver.stop()


def _payload(secret: str, received) -> dict:
    # Raises when the signature, the id or the timestamp do not verify.
    return Webhook(secret).verify(received.body, received.headers)


def _callback(token: str, action_id: str, what: str, body=None):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client.post(f"/api/v1/processors/requests/{action_id}/{what}", body or {}, format="json")


def test_a_request_waits_for_the_slow_processor_is_reminded_and_completes(
    receivers, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_READ_TIMEOUT_SECONDS = 1
    settings.PROCESSOR_REMINDER_AFTER_HOURS = 72
    fast_receiver, slow_receiver = receivers
    # The slow processor's first answer comes after the read timeout: a failed attempt.
    slow_receiver.plan(Answer(status=204, delay=2))
    user = UserFactory(email="ada@example.com")
    workspace = WorkspaceFactory(owner=user)
    _, fast_secret, fast_token = register_processor(
        name="Gateway logs",
        url=fast_receiver.url,
        kinds=("opt_out",),
        identifiers=("account_id", "workspace_ids"),
    )
    slow, slow_secret, slow_token = register_processor(
        name="Abuse store", url=slow_receiver.url, kinds=("opt_out",), identifiers=("email",)
    )
    start = timezone.now()

    with time_machine.travel(start, tick=True):
        with django_capture_on_commit_callbacks(execute=True):
            request = privacy_request_submit(
                user=user,
                request_type=RequestType.TRAINING_OPT_OUT,
                jurisdiction=Jurisdiction.EEA_UK,
            )

        # Each processor got one signed message with only the identifiers it needs.
        [fast_message] = fast_receiver.received
        payload = _payload(fast_secret, fast_message)
        assert payload["type"] == "privacy_request.processor_action"
        assert payload["schema_version"] == 1
        data = payload["data"]
        assert data["request_kind"] == "opt_out"
        assert data["subject"] == {"account_id": str(user.pk), "workspace_ids": [str(workspace.pk)]}
        [slow_first] = slow_receiver.received
        assert _payload(slow_secret, slow_first)["data"]["subject"] == {"email": "ada@example.com"}
        with pytest.raises(WebhookVerificationError):  # signed for the other processor
            _payload(fast_secret, slow_first)

        # The fast processor answers through the callback API.
        fast_action_id = data["action_id"]
        assert _callback(fast_token, fast_action_id, "received").status_code == 200
        response = _callback(fast_token, fast_action_id, "completed", {"result": "Excluded."})
        assert response.status_code == 200
        request.refresh_from_db()
        assert request.status == RequestStatus.IN_PROGRESS  # waiting on the slow one
        assert request.carried_out_at is not None

    # The slow one's first delivery timed out; the sweep delivers it again, same id.
    slow_action = ProcessorAction.objects.get(processor=slow)
    with time_machine.travel(start + timedelta(minutes=10), tick=True):
        with django_capture_on_commit_callbacks(execute=True):
            assert webhook_messages_sweep() == 1
        first, second = slow_receiver.received
        assert second.headers["webhook-id"] == first.headers["webhook-id"]
        assert _payload(slow_secret, second)["data"]["action_id"] == slow_action.public_id
    attempts = WebhookAttempt.objects.filter(endpoint=slow.webhook_endpoint).order_by("number")
    assert [a.succeeded for a in attempts] == [False, True]

    # Days later, still no answer: the reminder goes to the slow processor only.
    with time_machine.travel(start + timedelta(hours=73), tick=True):
        with django_capture_on_commit_callbacks(execute=True):
            assert processor_actions_remind() == 1
            assert processor_actions_remind() == 0  # not twice
        reminder = slow_receiver.received[-1]
        data = _payload(slow_secret, reminder)["data"]
        assert data["reminder"] is True
        assert data["reminders_sent"] == 1
        assert data["action_id"] == slow_action.public_id
        assert reminder.headers["webhook-id"] != first.headers["webhook-id"]
        assert len(fast_receiver.received) == 1
        slow_action.refresh_from_db()
        assert slow_action.reminders_sent == 1
        assert slow_action.state == ActionState.SENT

        # The slow processor confirms; the request completes and its owner is told.
        mail.outbox.clear()
        with django_capture_on_commit_callbacks(execute=True):
            response = _callback(
                slow_token, slow_action.public_id, "completed", {"result": "Purged."}
            )
        assert response.status_code == 200
        request.refresh_from_db()
        assert request.status == RequestStatus.COMPLETED
        assert [m.to for m in mail.outbox] == [["ada@example.com"]]
    actions = ProcessorAction.objects.for_request(request.pk)
    assert {a.state for a in actions} == {ActionState.COMPLETED}
    assert all(json.loads(a.identifiers or "{}") == {} for a in actions)
