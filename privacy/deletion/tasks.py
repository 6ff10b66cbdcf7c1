"""Celery tasks of the deletion job. Thin: the ledger row is the truth, not the message."""

from celery import shared_task
from django.db import DatabaseError

from accounts.jobs import job_exclusive
from privacy.deletion.services import deletion_run, deletion_sweep


@shared_task(
    name="privacy.deletion_run",
    acks_late=True,
    autoretry_for=(DatabaseError, OSError),
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=8,
)
def deletion_run_task(*, deletion_id: int) -> str:
    outcome = deletion_run(deletion_id=deletion_id)
    if outcome == "yielded":
        # Out of time for this message; a fresh one lets other work interleave.
        deletion_run_task.delay(deletion_id=deletion_id)
    return outcome


@shared_task(name="privacy.deletion_sweep", acks_late=True)
@job_exclusive("privacy.deletion_sweep")
def deletion_sweep_task() -> int:
    """Re-queue every ledger row that is due or whose task was lost."""
    ids = deletion_sweep()
    for deletion_id in ids:
        deletion_run_task.delay(deletion_id=deletion_id)
    return len(ids)
