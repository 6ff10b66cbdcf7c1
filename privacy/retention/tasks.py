"""Celery task of the daily retention run."""

from celery import shared_task

from accounts.jobs import job_exclusive
from privacy.retention.services import retention_run


@shared_task(name="privacy.retention_run", acks_late=True)
@job_exclusive("privacy.retention_run")
def retention_run_task() -> int:
    return retention_run().pk
