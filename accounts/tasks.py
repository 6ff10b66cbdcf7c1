"""Background jobs of the accounts app. Thin: arguments in, one call, retries here."""

from celery import shared_task

from accounts.audit import audit_checkpoint_write
from accounts.emails import email_send_now, outbound_email_send, outbound_emails_sweep
from accounts.jobs import job_exclusive


@shared_task(
    name="accounts.tasks.send_email",
    autoretry_for=(OSError,),
    retry_backoff=True,
    retry_kwargs={"max_retries": 5},
    acks_late=True,
)
def send_email(*, to: list[str], subject: str, body: str) -> None:
    """Send a message queued before the outbox existed; new mail goes through it."""
    email_send_now(to=to, subject=subject, body=body)


@shared_task(
    name="accounts.outbox_send",
    autoretry_for=(OSError,),
    retry_backoff=30,
    retry_backoff_max=3600,
    retry_kwargs={"max_retries": 5},
    acks_late=True,
)
def outbox_send(*, email_id: int) -> None:
    """Send one outbox email; the sweep takes over when the retries run out."""
    outbound_email_send(email_id=email_id)


@shared_task(
    name="accounts.outbox_send_bulk",
    autoretry_for=(OSError,),
    retry_backoff=30,
    retry_backoff_max=3600,
    retry_kwargs={"max_retries": 5},
    acks_late=True,
)
def outbox_send_bulk(*, email_id: int) -> None:
    """Send one email of a bulk kind (a notice to every user), from the bulk queue."""
    outbound_email_send(email_id=email_id)


@shared_task(name="accounts.outbox_sweep")
@job_exclusive("accounts.outbox_sweep")
def outbox_sweep() -> None:
    outbound_emails_sweep()


@shared_task(name="accounts.audit_checkpoint", acks_late=True)
@job_exclusive("accounts.audit_checkpoint")
def audit_checkpoint() -> None:
    audit_checkpoint_write()
