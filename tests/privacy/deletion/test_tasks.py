"""Fault tests with real Celery worker processes: the ledger row, not the message, is the truth.

Each worker is `celery -A console worker` started here, pointed at the test database
and at its own Redis database as broker, and stopped (by its PID) when the test ends.
"""

import os
import signal
import time
from datetime import timedelta

import pytest
import redis
from django.utils import timezone

from accounts.models import AuditEvent, User
from apikeys.usage.models import UsageRecord
from privacy.deletion.models import DeletionRequest, DeletionStatus
from privacy.deletion.services import DeletionAction, account_deletion_request
from tests.factories import UserFactory, WorkspaceFactory, api_key_row, usage_rows_load
from tests.support import CeleryWorkers, broker_send, redis_test_db_url, wait_for

pytestmark = [
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True),
    # Messages go to the real broker on purpose; eager mode is for the in-process tests.
    pytest.mark.filterwarnings("ignore::celery.exceptions.AlwaysEagerIgnored"),
]


def broker_url() -> str:
    """A Redis database of its own for the broker (the tests flush it)."""
    return redis_test_db_url("DELETION_TEST_BROKER_DB", 14)


@pytest.fixture
def broker():
    client = redis.Redis.from_url(broker_url())
    client.flushdb()
    yield client
    client.flushdb()


@pytest.fixture
def workers(tmp_path, broker):
    pool = CeleryWorkers(tmp_path, broker_url=broker_url(), name="deletion-test")
    yield pool
    pool.stop_all()


def send(name: str, **kwargs) -> None:
    broker_send(broker_url(), name, **kwargs)


def due_account_deletion(user) -> DeletionRequest:
    deletion = account_deletion_request(user=user, send_receipt=False)
    DeletionRequest.objects.filter(pk=deletion.pk).update(
        scheduled_for=timezone.now() - timedelta(seconds=1)
    )
    return deletion


def test_worker_killed_mid_deletion_and_the_sweeper_finishes_it_exactly_once(workers):
    user = UserFactory()
    workspace = WorkspaceFactory(owner=user)
    usage_rows_load(workspace, api_key_row(workspace), 200_000)
    deletion = due_account_deletion(user)
    slow = {
        "DELETION_BATCH_SIZE": 2000,
        "DELETION_BATCH_MAX_ROWS": 2000,
        "DELETION_BATCH_PAUSE_SECONDS": 0.05,
    }

    first = workers.start(**slow)
    send("privacy.deletion_run", deletion_id=deletion.pk)

    def halfway():
        row = DeletionRequest.objects.get(pk=deletion.pk)
        return row.progress.get("counts", {}).get("apikeys.UsageRecord", 0) >= 40_000

    wait_for(halfway, 90, "the first worker to be part-way through")
    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=10)

    left = UsageRecord.objects.filter(workspace_id=workspace.pk).count()
    assert 0 < left < 200_000
    row = DeletionRequest.objects.get(pk=deletion.pk)
    assert row.status == DeletionStatus.RUNNING and row.claimed_by
    # What the ledger says was deleted is exactly what is gone: batches commit with it.
    assert row.progress["counts"]["apikeys.UsageRecord"] == 200_000 - left

    workers.start(
        DELETION_CLAIM_STALE_SECONDS=2, DELETION_BATCH_SIZE=2000, DELETION_BATCH_MAX_ROWS=2000
    )
    time.sleep(2.5)  # let the dead worker's heartbeat go stale
    send("privacy.deletion_sweep")

    def completed():
        return DeletionRequest.objects.get(pk=deletion.pk).status == DeletionStatus.COMPLETED

    wait_for(completed, 120, "the deletion to complete")
    # A second sweep, and a duplicate run message, change nothing.
    send("privacy.deletion_sweep")
    send("privacy.deletion_run", deletion_id=deletion.pk)
    time.sleep(1.5)

    row = DeletionRequest.objects.get(pk=deletion.pk)
    assert row.status == DeletionStatus.COMPLETED
    assert row.attempts >= 2
    assert row.progress["counts"]["apikeys.UsageRecord"] == 200_000
    assert not UsageRecord.objects.filter(workspace_id=workspace.pk).exists()
    assert not User.objects.filter(pk=user.pk).exists()
    assert AuditEvent.objects.filter(action=DeletionAction.ACCOUNT_DELETED).count() == 1


def test_broker_emptied_with_deletions_pending_and_the_sweeper_recovers_every_one(workers, broker):
    deletions = []
    for n in range(5):
        user = UserFactory()
        workspace = WorkspaceFactory(owner=user)
        usage_rows_load(workspace, api_key_row(workspace, n=n), 500)
        deletions.append(due_account_deletion(user))
    for deletion in deletions:
        send("privacy.deletion_run", deletion_id=deletion.pk)
    assert broker.llen("privacy-long") == 5

    broker.flushdb()
    workers.start()
    time.sleep(3)
    assert broker.llen("privacy-long") == 0
    pending = DeletionRequest.objects.filter(status=DeletionStatus.PENDING).count()
    assert pending == 5  # the messages are gone; nothing ran

    send("privacy.deletion_sweep")

    def all_completed():
        return DeletionRequest.objects.filter(status=DeletionStatus.COMPLETED).count() == len(
            deletions
        )

    wait_for(all_completed, 120, "every deletion to complete")
    assert not UsageRecord.objects.exists()
    assert AuditEvent.objects.filter(action=DeletionAction.ACCOUNT_DELETED).count() == 5
