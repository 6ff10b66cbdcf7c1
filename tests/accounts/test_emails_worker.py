"""The outbox with real Celery workers: the row, not the broker message, is the truth.

Workers are `celery -A console worker` processes started here against the test
database and a Redis database of their own as broker (EMAIL_TEST_BROKER_DB, flushed
by the tests), delivering through `tests.mail_backends.RecordingBackend` so each
delivery is counted; each is stopped by its PID when the test ends.
"""

import json
import os
import re
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

from accounts import jobs
from accounts.emails import email_enqueue_rendered
from accounts.models import OutboundEmail, OutboundEmailStatus
from console.celery import app
from privacy.requests.deadlines import Jurisdiction
from privacy.requests.models import PrivacyRequest, RequestStatus, RequestType
from privacy.requests.services import (
    privacy_request_confirm,
    privacy_request_submit,
    privacy_request_submit_public,
)
from tests.factories import UserFactory

pytestmark = [
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True),
    pytest.mark.filterwarnings("ignore::celery.exceptions.AlwaysEagerIgnored"),
]

ROOT = Path(settings.BASE_DIR)


def broker_url() -> str:
    """The test Redis server with a database of its own; EMAIL_TEST_BROKER_DB picks it."""
    parts = urlsplit(settings.REDIS_URL)
    db = int(os.environ.get("EMAIL_TEST_BROKER_DB", "15"))
    return urlunsplit(parts._replace(path=f"/{db}"))


def database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class Workers:
    def __init__(self, tmp_path):
        self.tmp_path = tmp_path
        self.record = tmp_path / "delivered.jsonl"
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
            "SECRET_KEY": settings.SECRET_KEY,
            "EMAIL_BACKEND": "tests.mail_backends.RecordingBackend",
            "EMAIL_RECORD_PATH": str(self.record),
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
                f"--hostname=outbox-test-{len(self.procs)}@%h",
                "--loglevel=INFO",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.procs.append(proc)
        return proc

    def kill(self, proc: subprocess.Popen) -> None:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)

    def stop_all(self):
        for proc in self.procs:
            self.kill(proc)

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
    with app.connection_for_write(broker_url()) as conn:
        app.send_task(name, kwargs=kwargs, connection=conn)


@pytest.fixture
def courier(monkeypatch):
    """Jobs started on commit go to the test broker, as in production, not run eagerly."""
    monkeypatch.setattr(jobs, "job_start", lambda name, /, **kwargs: send(name, **kwargs))


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


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
    assert broker.llen("celery") == pending  # the messages were queued ...
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
