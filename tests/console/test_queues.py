"""A queue for each kind of job, with real Celery workers: a long privacy job keeps its
worker busy while a password-reset email leaves through a worker of its own.

The workers are `celery -A console worker --queues=...` processes on the test database
and a Redis database of their own as broker (QUEUES_WORKER_TEST_BROKER_DB, flushed by
the test), stopped by their PID when the test ends.
"""

import json
from datetime import timedelta

import pytest
import redis
from django.urls import reverse
from django.utils import timezone

from accounts.models import OutboundEmail
from apikeys.usage.models import UsageRecord
from privacy.deletion.models import DeletionRequest, DeletionStatus
from privacy.deletion.services import account_deletion_request
from tests.factories import UserFactory, WorkspaceFactory, api_key_row, usage_rows_load
from tests.support import (
    CeleryWorkers,
    broker_send,
    jobs_published_to,
    redis_test_db_url,
    wait_for,
)

pytestmark = [
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True),
    pytest.mark.filterwarnings("ignore::celery.exceptions.AlwaysEagerIgnored"),
]

ROWS = 200_000


def broker_url() -> str:
    return redis_test_db_url("QUEUES_WORKER_TEST_BROKER_DB", 12)


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
        name="queues-test",
        env={
            "EMAIL_BACKEND": "tests.mail_backends.RecordingBackend",
            "EMAIL_RECORD_PATH": str(tmp_path / "delivered.jsonl"),
            # A deletion of ROWS usage rows in 100 paced batches: a minute or more.
            "DELETION_BATCH_SIZE": "2000",
            "DELETION_BATCH_MAX_ROWS": "2000",
            "DELETION_BATCH_PAUSE_SECONDS": "0.5",
        },
    )
    yield pool
    pool.stop_all()


def delivered_to(tmp_path, address: str) -> list[dict]:
    record = tmp_path / "delivered.jsonl"
    if not record.exists():
        return []
    lines = [json.loads(line) for line in record.read_text().splitlines() if line.strip()]
    return [line for line in lines if line["to"] == [address]]


def test_a_password_reset_email_leaves_while_a_large_deletion_holds_the_long_job_worker(
    workers, broker, monkeypatch, tmp_path, client
):
    leaving = UserFactory()
    workspace = WorkspaceFactory(owner=leaving)
    usage_rows_load(workspace, api_key_row(workspace), ROWS)
    deletion = account_deletion_request(user=leaving, send_receipt=False)
    DeletionRequest.objects.filter(pk=deletion.pk).update(
        scheduled_for=timezone.now() - timedelta(seconds=1)
    )
    forgetful = UserFactory(email="forgetful@example.com")

    workers.start(queues="privacy-long")
    workers.start(queues="email")
    broker_send(broker_url(), "privacy.deletion_run", deletion_id=deletion.pk)

    def deleting():
        row = DeletionRequest.objects.get(pk=deletion.pk)
        return row.status == DeletionStatus.RUNNING and row.progress.get("counts", {}).get(
            "apikeys.UsageRecord", 0
        )

    wait_for(deleting, 90, "the long-job worker to be deleting")

    with jobs_published_to(monkeypatch, broker_url()):
        response = client.post(reverse("account_reset_password"), {"email": forgetful.email})
    assert response.status_code == 302
    assert OutboundEmail.objects.count() == 1  # queued on commit, to the email queue

    (reset,) = wait_for(
        lambda: delivered_to(tmp_path, forgetful.email), 60, "the password-reset email"
    )
    # The email is out while the deletion is still under way on the other worker.
    row = DeletionRequest.objects.get(pk=deletion.pk)
    left = UsageRecord.objects.filter(workspace_id=workspace.pk).count()
    assert row.status == DeletionStatus.RUNNING
    assert 0 < row.progress["counts"]["apikeys.UsageRecord"] < ROWS
    assert left > 0
    assert "/accounts/password/reset/key/" in reset["body"]
    # Neither worker took the other's kind of job.
    logs = [path.read_text() for path in sorted(tmp_path.glob("worker*.log"))]
    assert "Task privacy.deletion_run[" in logs[0] and "Task accounts.outbox_send[" not in logs[0]
    assert "Task accounts.outbox_send[" in logs[1] and "Task privacy.deletion_run[" not in logs[1]
