"""The embedded default of `make run` (console.settings.local) really runs background
jobs without Redis: a real Celery worker over the filesystem broker, on SQLite."""

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WORKER_TIMEOUT_SECONDS = 30
# The worker command of deploy/run-local.sh.
WORKER_COMMAND = [
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
    "--loglevel=INFO",
]


@pytest.fixture
def local_env(tmp_path) -> dict[str, str]:
    """The environment of `make run`, isolated in tmp_path: no Redis, own DB and broker."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("DJANGO_")}
    env.update(
        DJANGO_SETTINGS_MODULE="console.settings.local",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        BROKER_DIR=str(tmp_path / "broker"),
        # Empty rather than absent, so a developer's .env cannot bring Redis back.
        REDIS_URL="",
        CELERY_BROKER_URL="",
        DEBUG="true",
        PYTHONUNBUFFERED="1",
    )
    return env


def _manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )


@pytest.mark.worker
def test_local_settings_run_a_task_in_a_real_worker_without_redis(local_env, tmp_path):
    _manage(local_env, "migrate", "--noinput", "--verbosity", "0")
    stdout_path, stderr_path = tmp_path / "worker.out", tmp_path / "worker.err"
    with stdout_path.open("w") as stdout, stderr_path.open("w") as stderr:
        worker = subprocess.Popen(
            WORKER_COMMAND,
            cwd=ROOT,
            env=local_env,
            stdout=stdout,
            stderr=stderr,
        )
    try:
        subject = f"Local stack check {uuid.uuid4().hex}"
        _manage(
            local_env,
            "shell",
            "-c",
            "from accounts.tasks import send_email; "
            f"send_email.delay(to=['someone@example.com'], subject={subject!r}, body='hello')",
        )

        deadline = time.monotonic() + WORKER_TIMEOUT_SECONDS
        while subject not in stdout_path.read_text() and time.monotonic() < deadline:
            assert worker.poll() is None, stderr_path.read_text()
            time.sleep(0.25)

        printed = stdout_path.read_text()
        assert subject in printed, stderr_path.read_text()
        assert "To: someone@example.com" in printed
        assert list((tmp_path / "broker" / "queue").iterdir()) == []
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=10)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


ACCOUNT_DELETION_ON_SQLITE = """
from datetime import timedelta
from django.conf import settings
from django.utils import timezone
from accounts.services import workspace_create
from apikeys.keys.models import ApiKey
from apikeys.usage.models import UsageRecord
from privacy.deletion.services import account_deletion_request, deletion_run
from privacy.deletion.models import DeletionRequest
from tests.factories import UserFactory

settings.DELETION_BATCH_SIZE = 100
user = UserFactory(email="leaving@example.com")
workspace = workspace_create(user=user, name="Mine")
key = ApiKey.objects.create(workspace=workspace, public_id="pkone", name="k",
    environment="development", secret_hash="0" * 64, pepper_id="p1", last_four="abcd")
start = timezone.now() - timedelta(days=2)
# Three rows share each second, so many rows sit exactly on a window's edge.
UsageRecord.objects.bulk_create(
    UsageRecord(workspace=workspace, api_key=key, request_id=f"r{n}", model="m",
                occurred_at=start + timedelta(seconds=n // 3))
    for n in range(3000)
)
deletion = account_deletion_request(user=user, send_receipt=False)
DeletionRequest.objects.filter(pk=deletion.pk).update(scheduled_for=timezone.now())
print("outcome", deletion_run(deletion_id=deletion.pk, time_budget=60))
deletion.refresh_from_db()
print("deleted", deletion.progress["counts"]["apikeys.UsageRecord"])
print("left", UsageRecord.objects.count())
"""


def test_account_deletion_runs_on_the_embedded_sqlite_default(local_env):
    _manage(local_env, "migrate", "--noinput", "--verbosity", "0")

    printed = _manage(local_env, "shell", "-c", ACCOUNT_DELETION_ON_SQLITE).stdout

    assert "outcome completed" in printed
    assert "deleted 3000" in printed
    assert "left 0" in printed
