"""Celery tasks of the processors feature."""

from celery import shared_task

from accounts.jobs import job_exclusive
from privacy.processors.services import processor_actions_remind


@shared_task(name="privacy.processors_remind")
@job_exclusive("privacy.processors_remind")
def processors_remind() -> int:
    """Remind processors of actions they left unanswered too long."""
    return processor_actions_remind()
