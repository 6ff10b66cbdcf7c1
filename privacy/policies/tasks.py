"""Background jobs of the privacy center. Thin: ids in, one service call, retries here."""

from celery import shared_task
from django.db import OperationalError

from accounts.jobs import job_exclusive


@shared_task(name="privacy.tasks.policy_notices_dispatch", acks_late=True)
@job_exclusive("privacy.tasks.policy_notices_dispatch")
def policy_notices_dispatch() -> int:
    """Start sending every advance notice that is due; return how many policies qualified."""
    from privacy.policies.services import policy_notices_due

    due = policy_notices_due()
    for policy_version_id in due:
        policy_notices_send.delay(policy_version_id=policy_version_id)
    return len(due)


@shared_task(
    name="privacy.tasks.policy_notices_send",
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_kwargs={"max_retries": 5},
    acks_late=True,
)
def policy_notices_send(*, policy_version_id: int) -> int:
    """Send one batch of notices, then queue the next until none are left."""
    from privacy.policies.services import policy_notices_send_batch

    sent = policy_notices_send_batch(policy_version_id=policy_version_id)
    if sent:
        policy_notices_send.delay(policy_version_id=policy_version_id)
    return sent
