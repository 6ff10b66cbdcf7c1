"""Services start jobs by task name, after the transaction that asked for them commits."""

import logging
import threading

import pytest
from celery.exceptions import NotRegistered
from django.core import mail
from django.db import connection, transaction

from accounts.jobs import _file_lock, job_enqueue, job_exclusive, job_lock, job_task
from privacy.retention.models import RetentionRun
from tests.support import LockHolder, wait_for, worker_database_url

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_job_starts_only_when_the_transaction_commits():
    with transaction.atomic():
        job_enqueue("accounts.tasks.send_email", to=["a@example.com"], subject="Hello", body="Body")
        assert mail.outbox == []
    assert [message.subject for message in mail.outbox] == ["Hello"]


def test_a_rolled_back_transaction_starts_nothing():
    with pytest.raises(RuntimeError), transaction.atomic():
        job_enqueue("accounts.tasks.send_email", to=["a@example.com"], subject="Hello", body="Body")
        raise RuntimeError("roll back")
    assert mail.outbox == []


def test_an_unknown_task_name_fails_at_once_and_queues_nothing():
    with pytest.raises(NotRegistered), transaction.atomic():
        job_enqueue("accounts.tasks.no_such_task")
    assert mail.outbox == []


def test_names_resolve_to_the_feature_task_modules():
    assert job_task("privacy.deletion_run").__module__ == "privacy.deletion.tasks"
    assert job_task("apikeys.usage_rollup_days").__module__ == "apikeys.usage.tasks"


# Jobs beat starts on a timer hold a lock: a second copy skips, a dead holder frees it.


@pytest.fixture
def postgres_holder(tmp_path):
    holder = LockHolder(
        tmp_path,
        {"DJANGO_SETTINGS_MODULE": "console.settings.test", "DATABASE_URL": worker_database_url()},
    )
    yield holder
    holder.stop_all()


def lock_is_free(name: str) -> bool:
    with job_lock(name) as taken:
        return taken


def test_two_copies_at_once_one_runs_and_the_other_skips_and_says_so(caplog):
    started, finish = threading.Event(), threading.Event()
    runs = []

    @job_exclusive("tests.sweep")
    def sweep(copy: str) -> str:
        runs.append(copy)
        started.set()
        finish.wait(30)
        return copy

    results = {}

    def first_copy():
        try:
            results["first"] = sweep("first")
        finally:
            connection.close()

    thread = threading.Thread(target=first_copy)
    thread.start()
    assert started.wait(30)
    with caplog.at_level(logging.INFO, logger="accounts.jobs"):
        results["second"] = sweep("second")
    finish.set()
    thread.join(30)

    assert runs == ["first"]
    assert results == {"first": "first", "second": None}
    assert "job tests.sweep skipped: another copy is running" in caplog.text
    # Done, the lock is free for the next tick.
    assert sweep("third") == "third" and runs == ["first", "third"]


def test_a_copy_of_the_retention_run_skips_while_another_process_runs_it(postgres_holder, caplog):
    holder = postgres_holder.start("privacy.retention_run")
    with caplog.at_level(logging.INFO, logger="accounts.jobs"):
        assert job_task("privacy.retention_run").apply().get() is None
    assert not RetentionRun.objects.exists()
    assert "job privacy.retention_run skipped" in caplog.text

    postgres_holder.kill(holder)
    run_id = wait_for(
        lambda: job_task("privacy.retention_run").apply().get(), 10, "the lock to be free"
    )
    assert RetentionRun.objects.filter(pk=run_id).exists()


def test_a_holder_killed_mid_run_frees_the_lock_at_once_on_postgresql(postgres_holder):
    holder = postgres_holder.start("accounts.outbox_sweep")
    assert not lock_is_free("accounts.outbox_sweep")
    assert lock_is_free("apikeys.last_used_flush")  # each job has a lock of its own

    postgres_holder.kill(holder)
    # The server ends the dead process's session, and its advisory locks with it.
    wait_for(lambda: lock_is_free("accounts.outbox_sweep"), 10, "the lock to be free")


@pytest.mark.worker
def test_a_holder_killed_mid_run_frees_the_lock_at_once_on_sqlite(tmp_path, settings):
    settings.JOB_LOCK_DIR = str(tmp_path / "locks")
    holders = LockHolder(
        tmp_path,
        {
            "DJANGO_SETTINGS_MODULE": "console.settings.local",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
            "JOB_LOCK_DIR": settings.JOB_LOCK_DIR,
            "REDIS_URL": "",
            "CELERY_BROKER_URL": "",
            "BROKER_DIR": str(tmp_path / "broker"),
        },
    )
    try:
        holder = holders.start("privacy.retention_run")
        with _file_lock("privacy.retention_run") as taken:
            assert not taken
        holders.kill(holder)
        with _file_lock("privacy.retention_run") as taken:
            assert taken
        with _file_lock("privacy.retention_run") as taken:
            assert taken
    finally:
        holders.stop_all()
