"""The outbox with real Celery workers: the row, not the broker message, is the truth.

Workers are `celery -A console worker` processes started here against the test
database and a Redis database of their own as broker (EMAIL_TEST_BROKER_DB, flushed
by the tests), delivering through `tests.mail_backends.RecordingBackend` so each
delivery is counted; each is stopped by its PID when the test ends.
"""

import json
import re
import time
from datetime import timedelta

import pytest
import redis
from django.utils import timezone

from accounts import jobs
from accounts.emails import email_enqueue_rendered
from accounts.models import OutboundEmail, OutboundEmailStatus
from privacy.requests.deadlines import Jurisdiction
from privacy.requests.models import PrivacyRequest, RequestStatus, RequestType
from privacy.requests.services import (
    privacy_request_confirm,
    privacy_request_submit,
    privacy_request_submit_public,
)
from tests.factories import UserFactory
from tests.support import (
    CeleryWorkers,
    LockHolder,
    broker_send,
    redis_test_db_url,
    wait_for,
    worker_database_url,
)

pytestmark = [
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True),
    pytest.mark.filterwarnings("ignore::celery.exceptions.AlwaysEagerIgnored"),
]


def broker_url() -> str:
    """A Redis database of its own for the broker; EMAIL_TEST_BROKER_DB picks it."""
    return redis_test_db_url("EMAIL_TEST_BROKER_DB", 15)


class Workers(CeleryWorkers):
    """Workers whose mail goes to a file, one JSON line per delivery."""

    def __init__(self, tmp_path):
        self.record = tmp_path / "delivered.jsonl"
        super().__init__(
            tmp_path,
            broker_url=broker_url(),
            name="outbox-test",
            env={
                "EMAIL_BACKEND": "tests.mail_backends.RecordingBackend",
                "EMAIL_RECORD_PATH": str(self.record),
            },
        )

    def delivered(self) -> list[dict]:
        if not self.record.exists():
            return []
        lines = self.record.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]


@pytest.fixture
def broker():
    client = redis.Redis.from_url(broker_url())
    client.flushdb()
    yield client
    client.flushdb()


@pytest.fixture
def workers(tmp_path, broker):
    pool = Workers(tmp_path)
    yield pool
    pool.stop_all()


def send(name: str, **kwargs) -> None:
    broker_send(broker_url(), name, **kwargs)


@pytest.fixture
def courier(monkeypatch):
    """Jobs started on commit go to the test broker, as in production, not run eagerly."""
    monkeypatch.setattr(jobs, "job_start", lambda name, /, **kwargs: send(name, **kwargs))


def all_sent() -> bool:
    return not OutboundEmail.objects.exclude(status=OutboundEmailStatus.SENT).exists()


def test_emptied_broker_loses_no_email_and_the_sweep_sends_each_exactly_once(
    workers, broker, courier
):
    user = UserFactory(email="ccpa@example.com")
    ccpa = privacy_request_submit(
        user=user,
        request_type=RequestType.CORRECTION,
        jurisdiction=Jurisdiction.CALIFORNIA,
        details="My name is misspelled.",
    )
    public, _token = privacy_request_submit_public(
        email="someone@example.com",
        name="Someone",
        request_type=RequestType.CHILD_REPORT,
        jurisdiction=Jurisdiction.CALIFORNIA,
        details="My child signed up.",
    )
    email_enqueue_rendered(to=["plain@example.com"], subject="Plain", body="Hello")
    pending = OutboundEmail.objects.count()
    assert pending == 4  # received + verified, confirmation link, plain
    assert broker.llen("email") == pending  # the messages were queued ...
    broker.flushdb()  # ... and the broker lost them.

    ccpa.refresh_from_db()
    assert ccpa.acknowledged_at is None  # queued is not told
    # Time passes: the sweep stops waiting for the lost messages.
    OutboundEmail.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    workers.start()
    send("accounts.outbox_sweep")
    wait_for(all_sent, 60, "the outbox to be sent")
    # More sweeps and a stray duplicate message change nothing.
    send("accounts.outbox_sweep")
    send("accounts.outbox_send", email_id=OutboundEmail.objects.first().pk)
    send("accounts.outbox_sweep")
    time.sleep(2)

    delivered = workers.delivered()
    keys = sorted((tuple(d["to"]), d["subject"]) for d in delivered)
    assert len(keys) == pending and len(set(keys)) == pending
    ccpa.refresh_from_db()
    assert ccpa.acknowledged_at is not None
    sent_at = OutboundEmail.objects.get(kind="privacy.request_received").sent_at
    assert ccpa.acknowledged_at == sent_at
    # The confirmation link reached the person, and it works.
    (confirmation,) = [d for d in delivered if d["to"] == ["someone@example.com"]]
    token = re.search(r"/privacy/requests/confirm/([\w-]+)/", confirmation["body"]).group(1)
    assert privacy_request_confirm(token=token).pk == public.pk
    assert PrivacyRequest.objects.get(pk=public.pk).status == RequestStatus.RECEIVED


def test_worker_killed_while_sending_the_email_is_delivered_with_at_most_one_duplicate(
    workers, broker, courier
):
    # The first worker records the delivery (the server accepted it) and hangs before it
    # can mark the row sent; it holds a short lease.
    first = workers.start(EMAIL_RECORD_HANG_SECONDS=120, EMAIL_OUTBOX_LEASE_SECONDS=2)
    email = email_enqueue_rendered(to=["once@example.com"], subject="Receipt", body="Done")
    wait_for(workers.delivered, 60, "the first delivery")
    workers.kill(first)
    email.refresh_from_db()
    assert email.status == OutboundEmailStatus.SENDING
    assert email.sent_at is None

    workers.start()
    time.sleep(2.5)  # the dead worker's lease lapses
    send("accounts.outbox_sweep")
    wait_for(all_sent, 60, "the email to be marked sent")
    send("accounts.outbox_sweep")
    time.sleep(1)

    delivered = [d for d in workers.delivered() if d["to"] == ["once@example.com"]]
    # At least once; the crash between "accepted" and "marked sent" costs one duplicate.
    assert 1 <= len(delivered) <= 2
    email.refresh_from_db()
    assert email.status == OutboundEmailStatus.SENT
    assert email.attempts == 2


def test_a_sweep_copy_skips_while_another_holds_the_lock_and_runs_once_the_holder_dies(
    workers, broker, courier, tmp_path
):
    email = email_enqueue_rendered(to=["late@example.com"], subject="Late", body="Hello")
    broker.flushdb()  # the message was lost; only the sweep can send it now
    OutboundEmail.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    holders = LockHolder(
        tmp_path,
        {"DJANGO_SETTINGS_MODULE": "console.settings.test", "DATABASE_URL": worker_database_url()},
    )
    try:
        # A copy of the sweep still running on another worker (as far as the lock shows).
        holder = holders.start("accounts.outbox_sweep")
        workers.start(queues="email")
        send("accounts.outbox_sweep")
        log = tmp_path / "worker0.log"
        wait_for(
            lambda: "job accounts.outbox_sweep skipped" in log.read_text(),
            60,
            "the second copy to skip",
        )
        email.refresh_from_db()
        assert email.status == OutboundEmailStatus.PENDING and workers.delivered() == []

        holders.kill(holder)  # the running copy's worker dies
        send("accounts.outbox_sweep")
        wait_for(all_sent, 60, "the next sweep to send the email")
    finally:
        holders.stop_all()
    assert [d["to"] for d in workers.delivered()] == [["late@example.com"]]
