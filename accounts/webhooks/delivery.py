"""Delivering webhook messages: claim, sign, POST, record, retry, sweep.

- Delivery claims the message with a conditional UPDATE that takes a lease
  (`WEBHOOK_CLAIM_SECONDS`), so two workers never deliver it at the same time. The claim
  commits before the receiver is contacted and the outcome after, in one transaction
  with the attempt's log row.
- A 2xx answer delivers the message. Anything else (another status, a 3xx included:
  redirects are never followed; a timeout; a refused address) is a failed attempt: the
  next one is scheduled by `WEBHOOK_RETRY_SCHEDULE_SECONDS` with jitter, for about
  three days, after which the message is marked failed.
- The sweep (beat, every 15 seconds) queues again the messages that are due: retries
  whose time has come, messages whose broker message was lost, and messages whose
  worker died mid-delivery (their claim lapsed). The row is the truth.
- Delivery is at least once: a worker killed after the receiver answered but before the
  outcome was recorded delivers the message again, with the same `webhook-id`, which
  receivers use to drop duplicates.
- An endpoint whose every attempt has failed for `WEBHOOK_DISABLE_AFTER_DAYS` is
  disabled and the workspace's owners are told by email.
"""

from __future__ import annotations

import json
import logging
import random
import time
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.jobs import job_enqueue
from accounts.validators import text_single_line
from accounts.webhooks import signing
from accounts.webhooks.models import (
    EXCERPT_MAX_LENGTH,
    WebhookAttempt,
    WebhookEndpoint,
    WebhookMessage,
    WebhookMessageStatus,
)
from accounts.webhooks.network import WebhookUrlRefused, post
from accounts.webhooks.services import DELIVER_TASK, webhook_endpoint_disable

logger = logging.getLogger(__name__)

# Seconds before each retry: the first after 5 s, the last about three and a half days
# after the first attempt.
DEFAULT_RETRY_SCHEDULE = (5, 300, 1800, 7200, 18000, 36000, 36000, 50400, 72000, 72000)
USER_AGENT = "Console-Webhooks/1"


def _setting(name: str, default):
    return getattr(settings, name, default)


def retry_schedule() -> tuple[int, ...]:
    return tuple(_setting("WEBHOOK_RETRY_SCHEDULE_SECONDS", DEFAULT_RETRY_SCHEDULE))


def retry_delay(round_attempts: int) -> timedelta | None:
    """The wait before the next attempt after `round_attempts` failures; None: give up.

    Up to a tenth more or less, so receivers that fail together are not retried together.
    """
    schedule = retry_schedule()
    if round_attempts > len(schedule):
        return None
    base = schedule[round_attempts - 1]
    return timedelta(seconds=base * random.uniform(0.9, 1.1))


def body_bytes(message: WebhookMessage) -> bytes:
    return json.dumps(message.payload, sort_keys=True, separators=(",", ":")).encode()


def _claim(message_id: str, now: datetime) -> str | None:
    token = uuid.uuid4().hex
    claimed = (
        WebhookMessage.objects.filter(pk=message_id)
        .filter(
            Q(status=WebhookMessageStatus.PENDING)
            | Q(status=WebhookMessageStatus.SENDING, claimed_until__lt=now)
        )
        .update(
            status=WebhookMessageStatus.SENDING,
            claim_token=token,
            claimed_until=now + timedelta(seconds=_setting("WEBHOOK_CLAIM_SECONDS", 120)),
            attempts=F("attempts") + 1,
            round_attempts=F("round_attempts") + 1,
        )
    )
    return token if claimed else None


def webhook_message_deliver(*, message_id: str) -> bool:
    """Claim the message, POST it to its endpoint and record the outcome.

    Return True when this call delivered it. Not atomic on purpose: the claim commits
    before the receiver is contacted. A message delivered, given up on, or being
    delivered under a live claim is left alone, so a duplicate task costs nothing.
    """
    now = timezone.now()
    token = _claim(message_id, now)
    if token is None:
        return False
    message = WebhookMessage.objects.select_related("endpoint").get(pk=message_id)
    endpoint = message.endpoint
    if not endpoint.enabled:
        _finish(message=message, token=token, give_up_reason="The endpoint is disabled.")
        return False
    body = body_bytes(message)
    timestamp = int(time.time())
    headers = signing.headers(
        secrets_=endpoint.signing_secrets(), msg_id=message.pk, timestamp=timestamp, body=body
    )
    headers.update({"content-type": "application/json", "user-agent": USER_AGENT})
    started = time.monotonic()
    status_code = None
    excerpt = ""
    error = ""
    try:
        answer = post(
            url=endpoint.url,
            body=body,
            headers=headers,
            connect_timeout=float(_setting("WEBHOOK_CONNECT_TIMEOUT_SECONDS", 5)),
            read_timeout=float(_setting("WEBHOOK_READ_TIMEOUT_SECONDS", 15)),
        )
    except WebhookUrlRefused as exc:
        error = f"Refused: {exc}"
    except TimeoutError:
        error = "Timed out."
    except OSError as exc:
        error = f"Connection failed: {type(exc).__name__}"
    else:
        status_code = answer.status
        excerpt = answer.excerpt
        if 300 <= status_code < 400:
            error = "Redirect not followed."
        elif not 200 <= status_code < 300:
            error = f"HTTP {status_code}"
    latency_ms = int((time.monotonic() - started) * 1000)
    return _record(
        message=message,
        token=token,
        status_code=status_code,
        latency_ms=latency_ms,
        excerpt=excerpt,
        error=error,
    )


@transaction.atomic
def _finish(*, message: WebhookMessage, token: str, give_up_reason: str) -> None:
    WebhookMessage.objects.filter(
        pk=message.pk, status=WebhookMessageStatus.SENDING, claim_token=token
    ).update(
        status=WebhookMessageStatus.FAILED,
        claimed_until=None,
        last_error=give_up_reason[:200],
        # The claim counted an attempt that was never made.
        attempts=F("attempts") - 1,
        round_attempts=F("round_attempts") - 1,
    )


@transaction.atomic
def _record(
    *,
    message: WebhookMessage,
    token: str,
    status_code: int | None,
    latency_ms: int,
    excerpt: str,
    error: str,
) -> bool:
    current = (
        WebhookMessage.objects.select_for_update()
        .filter(pk=message.pk, status=WebhookMessageStatus.SENDING, claim_token=token)
        .first()
    )
    if current is None:
        # Our claim lapsed and another worker took the message over: it records it.
        return False
    now = timezone.now()
    succeeded = not error
    WebhookAttempt.objects.create(
        message=current,
        endpoint_id=current.endpoint_id,
        number=current.attempts,
        attempted_at=now,
        status_code=status_code,
        latency_ms=latency_ms,
        succeeded=succeeded,
        response_excerpt=text_single_line(excerpt, max_length=EXCERPT_MAX_LENGTH)
        if excerpt
        else "",
        error=error[:200],
    )
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=current.endpoint_id)
    if succeeded:
        current.status = WebhookMessageStatus.DELIVERED
        current.delivered_at = now
        current.last_error = ""
        current.claimed_until = None
        current.save(update_fields=["status", "delivered_at", "last_error", "claimed_until"])
        if endpoint.failing_since is not None:
            endpoint.failing_since = None
            endpoint.save(update_fields=["failing_since"])
        return True
    delay = retry_delay(current.round_attempts)
    current.status = WebhookMessageStatus.FAILED if delay is None else WebhookMessageStatus.PENDING
    current.next_attempt_at = now + (delay or timedelta(0))
    current.last_error = error[:200]
    current.claimed_until = None
    current.save(update_fields=["status", "next_attempt_at", "last_error", "claimed_until"])
    if endpoint.failing_since is None:
        endpoint.failing_since = now
        endpoint.save(update_fields=["failing_since"])
    disable_after = timedelta(days=_setting("WEBHOOK_DISABLE_AFTER_DAYS", 3))
    if endpoint.enabled and endpoint.failing_since <= now - disable_after:
        webhook_endpoint_disable(
            endpoint=endpoint,
            reason=f"Every delivery failed for {disable_after.days} days.",
        )
    logger.info(
        "Webhook %s attempt %d failed (%s)%s",
        current.pk,
        current.attempts,
        error,
        ", giving up" if delay is None else "",
    )
    return False


@transaction.atomic
def webhook_messages_sweep(*, now: datetime | None = None, limit: int = 1000) -> int:
    """Queue again the messages that are due, lost or abandoned; return how many."""
    now = now or timezone.now()
    due = list(
        WebhookMessage.objects.due(now=now)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    if not due:
        return 0
    # Give these messages time to arrive before a later sweep queues them once more.
    WebhookMessage.objects.filter(pk__in=due, status=WebhookMessageStatus.PENDING).update(
        next_attempt_at=now + timedelta(seconds=_setting("WEBHOOK_REQUEUE_AFTER_SECONDS", 60))
    )
    for pk in due:
        job_enqueue(DELIVER_TASK, message_id=pk)
    return len(due)
