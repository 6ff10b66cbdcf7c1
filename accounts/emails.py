"""Outgoing email: rendered from templates, written to the outbox, sent by the worker.

The outbox (`OutboundEmail`) is a table, not a broker queue: every email is written in
the same transaction as the change that causes it, and a Celery task started on commit
sends it from there. The row is the truth and the message only a courier, so a lost
message, an emptied broker or a dead worker delays an email and never loses it:

- Sending claims the row with a conditional UPDATE that takes a lease
  (`EMAIL_OUTBOX_LEASE_SECONDS`), so two workers never send the same row at the same
  time; success marks it sent, failure puts it back with an exponential backoff until
  `EMAIL_OUTBOX_MAX_ATTEMPTS`, then marks it failed.
- A sweep (beat, every minute) queues again the pending rows whose message should have
  arrived by now and the rows whose sender's lease lapsed.
- Delivery is at least once. A worker killed after the mail server accepted a message
  but before it marked the row sent leaves the row "sending"; once the lease lapses the
  sweep sends it again, so such a crash costs the recipient at most one duplicate (one
  per crash at that exact point). Nothing can close that gap: SMTP has no transaction
  to join.
- States that mean "the person was told" are set when the email is sent: a row may name
  a `kind`, and the hooks registered for it (`email_sent_hook_register`, called from the
  higher apps' `ready()`) run in the transaction that marks the row sent.
- Subject, body and recipients are encrypted at rest with the project's keyring
  (`EncryptedTextField`); delivered rows are purged after `EMAIL_OUTBOX_KEEP_DAYS` by the
  retention job.

Why not a library: django-post-office and django-mailer both keep such an outbox, but
they store recipients, subject and body in plain columns of their own models
(post_office.Email; mailer.Message's serialised message and the MessageLog copy of every
sent one), which cannot be swapped for a field encrypted with our keyring, and neither
can tell the sender's app that a given message was delivered. Encrypting them would
mean forking their models, so the outbox is the ~150 lines below.

Subjects are rendered from templates that carry text people typed (workspace and key
names), so every header value is made one safe line before it reaches the mail
library: a line break there would raise `BadHeaderError` and the mail would be lost.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.utils import timezone

from accounts.jobs import job_enqueue
from accounts.models import OutboundEmail, OutboundEmailStatus
from accounts.validators import text_has_unsafe_chars, text_single_line

logger = logging.getLogger(__name__)

# RFC 5322 asks for lines of at most 998 characters; a subject needs far fewer.
SUBJECT_MAX_LENGTH = 200


def email_header_clean(value: str) -> str:
    """Return `value` as a header-safe subject: one line, no control or bidi characters."""
    return text_single_line(value, max_length=SUBJECT_MAX_LENGTH)


def email_recipients_clean(to: list[str]) -> list[str]:
    """Drop recipients that could not be a single header value (never reached by valid data)."""
    kept = [address for address in to if isinstance(address, str) and address]
    kept = [address for address in kept if not text_has_unsafe_chars(address)]
    if len(kept) != len(to):
        logger.warning("Dropped %d recipient(s) with unsafe characters.", len(to) - len(kept))
    return kept


def email_render(*, template: str, context: dict) -> tuple[str, str]:
    """Render `accounts/email/<template>_subject.txt` and `_message.txt`."""
    ctx = {"site_url": settings.SITE_URL, **context}
    subject = email_header_clean(render_to_string(f"{template}_subject.txt", ctx))
    body = render_to_string(f"{template}_message.txt", ctx)
    return subject, body


def email_send_now(*, to: list[str], subject: str, body: str) -> None:
    to = email_recipients_clean(to)
    if not to:
        return
    message = EmailMultiAlternatives(
        subject=email_header_clean(subject),
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=to,
    )
    message.send()


# kind → callables(*, ref: str, sent_at: datetime), run when an email of that kind is sent.
EMAIL_SENT_HOOKS: dict[str, list[Callable]] = {}


def email_sent_hook_register(kind: str, hook: Callable) -> None:
    """Call `hook(ref=..., sent_at=...)` when an email of `kind` has been sent (at ready)."""
    hooks = EMAIL_SENT_HOOKS.setdefault(kind, [])
    if hook not in hooks:
        hooks.append(hook)


# Kinds sent to many people at once (a policy notice goes to every user). They travel
# on a queue of their own, so a password reset never waits behind a million of them.
EMAIL_BULK_KINDS: set[str] = set()


def email_bulk_kind_register(kind: str) -> None:
    """Send emails of `kind` through the bulk queue (at ready)."""
    EMAIL_BULK_KINDS.add(kind)


def email_send_task_name(kind: str) -> str:
    """The task that sends an email of `kind`: the bulk one or the one people wait on."""
    return "accounts.outbox_send_bulk" if kind in EMAIL_BULK_KINDS else "accounts.outbox_send"


def _setting(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


def email_enqueue(
    *, to: list[str], template: str, context: dict, kind: str = "", ref: str = ""
) -> OutboundEmail | None:
    """Render now (inside the transaction, with the data as it is) and write to the outbox."""
    subject, body = email_render(template=template, context=context)
    return email_enqueue_rendered(to=to, subject=subject, body=body, kind=kind, ref=ref)


@transaction.atomic
def email_enqueue_rendered(
    *, to: list[str], subject: str, body: str, kind: str = "", ref: str = ""
) -> OutboundEmail | None:
    """Write an already rendered message to the outbox; start sending it on commit.

    `kind` names the hooks to run once it is sent, with `ref` (an id, never personal
    data). A transaction that rolls back takes the email with it.
    """
    to = email_recipients_clean(list(to))
    if not to:
        return None
    now = timezone.now()
    email = OutboundEmail.objects.create(
        kind=kind,
        ref=str(ref),
        recipients=json.dumps(to),
        subject=email_header_clean(subject),
        body=body,
        created_at=now,
        # The message started on commit is given this long to arrive before a sweep
        # decides it was lost.
        next_attempt_at=now
        + timedelta(seconds=_setting("EMAIL_OUTBOX_REQUEUE_AFTER_SECONDS", 120)),
    )
    job_enqueue(email_send_task_name(email.kind), email_id=email.pk)
    return email


def _backoff(attempts: int) -> timedelta:
    base = _setting("EMAIL_OUTBOX_BACKOFF_SECONDS", 30)
    return timedelta(seconds=min(base * 2 ** max(attempts - 1, 0), 6 * 3600))


def outbound_email_send(*, email_id: int) -> bool:
    """Claim the email, send it and mark it sent; return True when this call sent it.

    Not atomic on purpose: the claim commits before the mail server is contacted, and
    the outcome commits after. An email that is sent, being sent under a live lease, or
    given up on is left alone, so a duplicate message costs nothing. A failure puts
    the row back with a backoff and re-raises for the task's own retry.
    """
    now = timezone.now()
    token = uuid.uuid4().hex
    claimed = (
        OutboundEmail.objects.filter(pk=email_id)
        .filter(
            Q(status=OutboundEmailStatus.PENDING)
            | Q(status=OutboundEmailStatus.SENDING, claimed_until__lt=now)
        )
        .update(
            status=OutboundEmailStatus.SENDING,
            claim_token=token,
            claimed_until=now + timedelta(seconds=_setting("EMAIL_OUTBOX_LEASE_SECONDS", 300)),
            attempts=F("attempts") + 1,
        )
    )
    if not claimed:
        return False
    email = OutboundEmail.objects.get(pk=email_id)
    try:
        email_send_now(to=json.loads(email.recipients), subject=email.subject, body=email.body)
    except Exception as exc:
        _outbound_email_failed(email=email, token=token, error=exc)
        raise
    return _outbound_email_sent(email=email, token=token)


@transaction.atomic
def _outbound_email_sent(*, email: OutboundEmail, token: str) -> bool:
    sent_at = timezone.now()
    updated = OutboundEmail.objects.filter(
        pk=email.pk, status=OutboundEmailStatus.SENDING, claim_token=token
    ).update(status=OutboundEmailStatus.SENT, sent_at=sent_at, claimed_until=None)
    if not updated:
        # Our lease lapsed and another worker took the row over: it marks it sent.
        return False
    for hook in EMAIL_SENT_HOOKS.get(email.kind, []):
        try:
            with transaction.atomic():
                hook(ref=email.ref, sent_at=sent_at)
        except Exception:
            # The email is out; sending it again would not mend the hook.
            logger.exception("On-sent hook %r failed for email %s.", hook, email.pk)
    return True


@transaction.atomic
def _outbound_email_failed(*, email: OutboundEmail, token: str, error: Exception) -> None:
    attempts = OutboundEmail.objects.filter(pk=email.pk).values_list("attempts", flat=True).get()
    gave_up = attempts >= _setting("EMAIL_OUTBOX_MAX_ATTEMPTS", 8)
    OutboundEmail.objects.filter(
        pk=email.pk, status=OutboundEmailStatus.SENDING, claim_token=token
    ).update(
        status=OutboundEmailStatus.FAILED if gave_up else OutboundEmailStatus.PENDING,
        claimed_until=None,
        next_attempt_at=timezone.now() + _backoff(attempts),
        last_error=type(error).__name__[:200],
    )
    logger.warning(
        "Email %s failed (attempt %d%s): %s",
        email.pk,
        attempts,
        ", giving up" if gave_up else "",
        type(error).__name__,
    )


@transaction.atomic
def outbound_emails_sweep(*, now: datetime | None = None, limit: int = 1000) -> int:
    """Queue again the emails a lost message or a dead worker left behind; return how many."""
    now = now or timezone.now()
    due = list(
        OutboundEmail.objects.due(now=now)
        .order_by("next_attempt_at")
        .values_list("pk", "kind")[:limit]
    )
    if not due:
        return 0
    ids = [pk for pk, _kind in due]
    # The next sweep gives these messages time to arrive before queuing them once more.
    OutboundEmail.objects.filter(pk__in=ids, status=OutboundEmailStatus.PENDING).update(
        next_attempt_at=now + timedelta(seconds=_setting("EMAIL_OUTBOX_REQUEUE_AFTER_SECONDS", 120))
    )
    for pk, kind in due:
        job_enqueue(email_send_task_name(kind), email_id=pk)
    return len(ids)
