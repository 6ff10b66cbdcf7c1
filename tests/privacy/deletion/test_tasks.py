"""Fault tests with real Celery worker processes: the ledger row, not the message, is the truth.

Each worker is `celery -A console worker` started here, pointed at the test database
and at its own Redis database as broker, and stopped (by its PID) when the test ends.
"""

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
from django.conf import settings
from django.db import connection
from django.utils import timezone

from accounts.models import AuditEvent, User
from apikeys.usage.models import UsageRecord
from console.celery import app
from privacy.deletion.models import DeletionRequest, DeletionStatus
from privacy.deletion.services import DeletionAction, account_deletion_request
from tests.factories import UserFactory, WorkspaceFactory, api_key_row, usage_rows_load

pytestmark = [
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True),
    # Messages go to the real broker on purpose; eager mode is for the in-process tests.
    pytest.mark.filterwarnings("ignore::celery.exceptions.AlwaysEagerIgnored"),
]

ROOT = Path(settings.BASE_DIR)


def broker_url() -> str:
    """The test Redis server with a database of its own (the tests flush it).

    DELETION_TEST_BROKER_DB picks another number when 14 is taken on a machine.
    """
    parts = urlsplit(settings.REDIS_URL)
    db = int(os.environ.get("DELETION_TEST_BROKER_DB", "14"))
    return urlunsplit(parts._replace(path=f"/{db}"))


def database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class Workers:
    def __init__(self, tmp_path):
        self.tmp_path = tmp_path
        self.procs: list[subprocess.Popen] = []

    def start(self, **env_overrides) -> subprocess.Popen:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "console.settings.local",
            "DEBUG": "False",
            "DATABASE_URL": database_url(),
            "CONN_MAX_AGE": "0",
            "REDIS_URL": broker_url(),
            "CELERY_BROKER_URL": broker_url(),
            "ENCRYPTION_KEYS": settings.ENCRYPTION_KEYS,
            "AUDIT_CHAIN_KEYS": settings.AUDIT_CHAIN_KEYS,
            "SECRET_KEY": settings.SECRET_KEY,
            **{k: str(v) for k, v in env_overrides.items()},
        }
        log = open(self.tmp_path / f"worker{len(self.procs)}.log", "w")  # noqa: SIM115
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "console",
                "worker",
                "--pool=solo",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                f"--hostname=deletion-test-{len(self.procs)}@%h",
                "--loglevel=INFO",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.procs.append(proc)
        return proc

    def stop_all(self):
        for proc in self.procs:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


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
    with app.connection_for_write(broker_url()) as conn:
        app.send_task(name, kwargs=kwargs, connection=conn)


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


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
    assert broker.llen("celery") == 5

    broker.flushdb()
    workers.start()
    time.sleep(3)
    assert broker.llen("celery") == 0
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
