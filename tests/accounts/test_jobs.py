"""Services start jobs by task name, after the transaction that asked for them commits."""

import pytest
from celery.exceptions import NotRegistered
from django.core import mail
from django.db import transaction

from accounts.jobs import job_enqueue, job_task

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
