"""Background jobs of webhooks. Thin: arguments in, one call; the row holds the retries."""

from celery import shared_task

from accounts.jobs import job_exclusive
from accounts.webhooks.delivery import webhook_message_deliver, webhook_messages_sweep


@shared_task(name="accounts.webhook_deliver", acks_late=True)
def webhook_deliver(*, message_id: str) -> None:
    """Deliver one message once; a failure is scheduled on the row, the sweep retries it."""
    webhook_message_deliver(message_id=message_id)


@shared_task(name="accounts.webhook_sweep")
@job_exclusive("accounts.webhook_sweep")
def webhook_sweep() -> None:
    webhook_messages_sweep()
