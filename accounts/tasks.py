"""Background jobs of the accounts app. Thin: arguments in, one call, retries here."""

from celery import shared_task

from accounts.audit import audit_checkpoint_write
from accounts.emails import email_send_now


@shared_task(
    name="accounts.tasks.send_email",
    autoretry_for=(OSError,),
    retry_backoff=True,
    retry_kwargs={"max_retries": 5},
    acks_late=True,
)
def send_email(*, to: list[str], subject: str, body: str) -> None:
    email_send_now(to=to, subject=subject, body=body)


@shared_task(name="accounts.audit_checkpoint", acks_late=True)
def audit_checkpoint() -> None:
    audit_checkpoint_write()
