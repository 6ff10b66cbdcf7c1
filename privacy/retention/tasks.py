"""Celery task of the daily retention run."""

from celery import shared_task

from privacy.retention.services import retention_run


@shared_task(name="privacy.retention_run", acks_late=True)
def retention_run_task() -> int:
    return retention_run().pk
