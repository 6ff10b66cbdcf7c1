"""Task names are held outside the code (beat schedules in the database, queued
messages in the broker), so they must not move when the code does."""

import json
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import DatabaseScheduler

from accounts import jobs
from accounts.emails import email_enqueue_rendered, outbound_emails_sweep
from accounts.models import OutboundEmail
from console.celery import app
from tests.support import jobs_published_to, redis_test_db_url

# Every task the console has ever registered, under the name stored in schedules and
# messages. A rename here strands queued work: add a name, never change one.
TASK_NAMES = {
    "accounts.audit_checkpoint",
    "accounts.tasks.send_email",
    "accounts.outbox_send",
    "accounts.outbox_send_bulk",
    "accounts.outbox_sweep",
    "accounts.webhook_deliver",
    "accounts.webhook_sweep",
    "apikeys.last_used_flush",
    "apikeys.expiry_notices_send",
    "apikeys.usage_rollup_recent",
    "apikeys.usage_rollup_days",
    "apikeys.usage_partitions_maintain",
    "privacy.deletion_run",
    "privacy.deletion_sweep",
    "privacy.retention_run",
    "privacy.tasks.policy_notices_dispatch",
    "privacy.tasks.policy_notices_send",
    "privacy.tasks_export.run_export",
    "privacy.tasks_export.requeue_lost_exports",
    "privacy.tasks_export.expire_exports",
    "privacy.tasks_export.sweep_orphan_files",
    "privacy.tasks_requests.alert_staff_about_deadlines",
    "support.remind_staff_about_targets",
}


@pytest.fixture
def registered():
    """The task names a worker registers at start-up (it imports the same modules)."""
    app.loader.import_default_modules()
    return {name for name in app.tasks if not name.startswith("celery.")}


def test_every_task_keeps_the_name_schedules_and_queued_messages_hold(registered):
    assert registered == TASK_NAMES


def test_every_task_module_is_imported_by_workers():
    from pathlib import Path

    root = Path(settings.BASE_DIR)
    modules = {
        ".".join(path.relative_to(root).with_suffix("").parts)
        for app_name in ("accounts", "apikeys", "privacy", "support")
        for path in (root / app_name).rglob("tasks.py")
    }
    imported = set(settings.CELERY_IMPORTS) | {"accounts.tasks", "apikeys.tasks", "privacy.tasks"}
    assert modules and modules <= imported


def test_every_periodic_task_in_the_settings_names_a_registered_task(registered):
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert scheduled
    assert scheduled - registered == set()


# Beat's scheduler closes stale connections itself, so it runs outside a test transaction.
@pytest.mark.django_db(transaction=True)
def test_every_periodic_task_beat_stores_in_the_database_names_a_registered_task(registered):
    DatabaseScheduler(app=app)  # installs the settings' schedule into the database
    stored = set(PeriodicTask.objects.exclude(task="").values_list("task", flat=True))
    assert stored >= {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    # Beat also installs Celery's own housekeeping task (celery.backend_cleanup).
    assert stored - set(app.tasks) == set()
    assert stored & registered == {
        entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()
    }


# One queue per kind of job: what someone waits for never queues behind a long job.
EXPECTED_QUEUES = {
    "accounts.outbox_send": "email",
    "accounts.tasks.send_email": "email",
    "accounts.outbox_send_bulk": "email-bulk",
    "apikeys.usage_rollup_days": "usage",
    "apikeys.usage_rollup_recent": "usage",
    "privacy.deletion_run": "privacy-long",
    "privacy.retention_run": "privacy-long",
    "privacy.tasks_export.run_export": "privacy-long",
}


def queue_of(name: str, options: dict | None = None) -> str:
    """The queue a message for task `name` goes to, as Celery's producer routes it."""
    return app.amqp.router.route(dict(options or {}), name)["queue"].name


def test_every_task_is_routed_to_a_declared_queue(registered):
    declared = set(settings.CELERY_TASK_QUEUES)
    assert set(settings.CELERY_TASK_ROUTES) == registered
    assert {queue_of(name) for name in registered} <= declared
    for name, queue in EXPECTED_QUEUES.items():
        assert queue_of(name) == queue


@pytest.mark.django_db(transaction=True)
def test_beat_sends_each_periodic_task_to_the_queue_of_its_task(registered):
    scheduler = DatabaseScheduler(app=app)
    entries = {
        key: entry
        for key, entry in scheduler.schedule.items()
        if key in settings.CELERY_BEAT_SCHEDULE
    }
    assert set(entries) == set(settings.CELERY_BEAT_SCHEDULE)
    for entry in entries.values():
        assert (
            queue_of(entry.task, entry.options) == settings.CELERY_TASK_ROUTES[entry.task]["queue"]
        )
    assert queue_of("accounts.outbox_sweep", entries["email-outbox-sweep"].options) == "email"
    assert queue_of("privacy.retention_run", entries["retention-daily"].options) == "privacy-long"


@pytest.mark.django_db(transaction=True)
def test_a_periodic_tick_expires_when_the_next_one_is_due():
    scheduler = DatabaseScheduler(app=app)
    for key, entry in settings.CELERY_BEAT_SCHEDULE.items():
        assert scheduler.schedule[key].options["expires"] == entry["schedule"]
    assert scheduler.schedule["email-outbox-sweep"].options["expires"] == 60


def test_every_periodic_task_holds_its_job_lock(registered):
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert getattr(app.tasks[entry["task"]].run, "job_lock_name", None) == entry["task"]


@pytest.fixture
def routing_broker(monkeypatch):
    """Jobs really published (not run eagerly) to a Redis database of this test's own."""
    url = redis_test_db_url("QUEUES_TEST_BROKER_DB", 13)
    client = redis.Redis.from_url(url)
    client.flushdb()
    with jobs_published_to(monkeypatch, url):
        yield client
    client.flushdb()


@pytest.mark.django_db(transaction=True)
@pytest.mark.filterwarnings("ignore::celery.exceptions.AlwaysEagerIgnored")
def test_jobs_started_by_services_land_on_the_queue_of_their_kind(routing_broker):
    jobs.job_enqueue("accounts.outbox_send", email_id=1)
    jobs.job_enqueue("privacy.deletion_run", deletion_id=1)
    jobs.job_enqueue("apikeys.usage_rollup_days", days=["2026-01-01"])
    jobs.job_enqueue("privacy.deletion_sweep")
    jobs.job_enqueue("accounts.webhook_deliver", message_id="msg_0")

    lengths = {q: routing_broker.llen(q) for q in settings.CELERY_TASK_QUEUES}
    assert lengths == {
        "email": 1,
        "email-bulk": 0,
        "privacy-long": 1,
        "usage": 1,
        "default": 1,
        "webhooks": 1,
        "celery": 0,
    }
    (message,) = routing_broker.lrange("email", 0, -1)
    assert json.loads(message)["headers"]["task"] == "accounts.outbox_send"


@pytest.mark.django_db(transaction=True)
@pytest.mark.filterwarnings("ignore::celery.exceptions.AlwaysEagerIgnored")
def test_a_policy_notice_goes_to_the_bulk_queue_and_a_password_reset_does_not(
    routing_broker, client
):
    from privacy.policies.services import NOTICE_EMAIL_KIND
    from tests.factories import UserFactory

    user = UserFactory()
    email_enqueue_rendered(
        to=["someone@example.com"], subject="Policy", body="Changed", kind=NOTICE_EMAIL_KIND
    )
    client.post(reverse("account_reset_password"), {"email": user.email})

    assert routing_broker.llen("email-bulk") == 1
    assert routing_broker.llen("email") == 1
    # The sweep puts each lost message back on the queue of its kind.
    OutboundEmail.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert outbound_emails_sweep() == 2
    assert routing_broker.llen("email-bulk") == 2
    assert routing_broker.llen("email") == 2
