"""Background jobs for API keys. Thin: one service call each, retries here."""

from celery import shared_task

from accounts.jobs import job_exclusive
from apikeys.keys import services


@shared_task(
    name="apikeys.last_used_flush",
    autoretry_for=(OSError,),
    retry_backoff=True,
    retry_kwargs={"max_retries": 3},
)
@job_exclusive("apikeys.last_used_flush")
def api_key_last_used_flush_task() -> int:
    """Write the buffered last-used times to the database (beat, every minute)."""
    return services.api_key_last_used_flush()


@shared_task(
    name="apikeys.expiry_notices_send",
    autoretry_for=(OSError,),
    retry_backoff=True,
    retry_kwargs={"max_retries": 3},
)
@job_exclusive("apikeys.expiry_notices_send")
def api_key_expiry_notices_send_task() -> int:
    """Email the 7-day and 1-day expiry notices that are due (beat, hourly)."""
    return services.api_key_expiry_notices_send()
