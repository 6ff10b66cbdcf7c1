"""Task names are held outside the code (beat schedules in the database, queued
messages in the broker), so they must not move when the code does."""

import pytest
from django.conf import settings
from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import DatabaseScheduler

from console.celery import app

# Every task the console has ever registered, under the name stored in schedules and
# messages. A rename here strands queued work: add a name, never change one.
TASK_NAMES = {
    "accounts.audit_checkpoint",
    "accounts.tasks.send_email",
    "accounts.outbox_send",
    "accounts.outbox_sweep",
    "apikeys.last_used_flush",
    "apikeys.expiry_notices_send",
    "apikeys.usage_rollup_recent",
    "apikeys.usage_rollup_days",
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
