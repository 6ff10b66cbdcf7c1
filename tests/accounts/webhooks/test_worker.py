"""Webhooks with real Celery workers: the message row, not the broker, is the truth.

Workers are `celery -A console worker` processes started here against the test
database and a Redis database of their own as broker (WEBHOOK_TEST_BROKER_DB, flushed
by the tests); they deliver to the tests' receiver on loopback and are stopped by
their PIDs.
"""

import time
from datetime import timedelta

import pytest
import redis
from django.utils import timezone

from accounts import jobs
from accounts.webhooks.models import WebhookMessage, WebhookMessageStatus
from accounts.webhooks.services import webhook_endpoint_create, webhook_message_enqueue
from tests.accounts.webhooks.receiver import Answer
from tests.support import CeleryWorkers, broker_send, redis_test_db_url, wait_for

pytestmark = [
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True),
    pytest.mark.filterwarnings("ignore::celery.exceptions.AlwaysEagerIgnored"),
]


def broker_url() -> str:
    return redis_test_db_url("WEBHOOK_TEST_BROKER_DB", 11)


@pytest.fixture
def broker():
    client = redis.Redis.from_url(broker_url())
    client.flushdb()
    yield client
    client.flushdb()


@pytest.fixture
def workers(tmp_path, broker):
    pool = CeleryWorkers(
        tmp_path,
        broker_url=broker_url(),
        name="webhooks-test",
        env={"WEBHOOK_ALLOWED_PRIVATE_NETWORKS": "127.0.0.0/8"},
    )
    yield pool
    pool.stop_all()


def send(name: str, **kwargs) -> None:
    broker_send(broker_url(), name, **kwargs)


@pytest.fixture
def courier(monkeypatch):
    """Jobs started on commit go to the test broker, as in production."""
    monkeypatch.setattr(jobs, "job_start", lambda name, /, **kwargs: send(name, **kwargs))


@pytest.fixture
def endpoint(workspace, user, receiver):
    endpoint, _ = webhook_endpoint_create(
        workspace=workspace,
        url=receiver.url,
        event_types=["api_key.created"],
        description="",
        actor=user,
    )
    return endpoint


def all_delivered() -> bool:
    return not WebhookMessage.objects.exclude(status=WebhookMessageStatus.DELIVERED).exists()


def test_an_emptied_broker_loses_no_event(workers, broker, courier, endpoint, receiver):
    sent = [
        webhook_message_enqueue(endpoint=endpoint, event_type="api_key.created", data={"n": n})
        for n in range(3)
    ]
    assert broker.llen("webhooks") == 3  # the deliveries were queued ...
    broker.flushdb()  # ... and the broker lost them.
    # Time passes: the sweep stops waiting for the lost messages.
    WebhookMessage.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))

    workers.start()
    send("accounts.webhook_sweep")
    wait_for(all_delivered, 60, "every message to be delivered")
    send("accounts.webhook_sweep")
    time.sleep(1)

    received = [r.headers["webhook-id"] for r in receiver.received]
    assert sorted(set(received)) == sorted(m.pk for m in sent)


def test_a_worker_killed_mid_delivery_delivers_again_with_the_same_id(
    workers, broker, courier, endpoint, receiver
):
    # The receiver holds the first request; the worker holding it dies meanwhile.
    receiver.plan(Answer(status=204, delay=30))
    first = workers.start(WEBHOOK_CLAIM_SECONDS=2, WEBHOOK_READ_TIMEOUT_SECONDS=60)
    message = webhook_message_enqueue(endpoint=endpoint, event_type="api_key.created", data={})
    wait_for(lambda: receiver.received, 60, "the first delivery to arrive")
    workers.kill(first)
    message.refresh_from_db()
    assert message.status == WebhookMessageStatus.SENDING

    workers.start()
    time.sleep(2.5)  # the dead worker's claim lapses
    send("accounts.webhook_sweep")
    wait_for(all_delivered, 60, "the message to be delivered")

    ids = [r.headers["webhook-id"] for r in receiver.received]
    assert ids == [message.pk, message.pk]
    message.refresh_from_db()
    assert message.attempts == 2
