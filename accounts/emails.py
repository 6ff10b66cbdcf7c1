"""Outgoing email, rendered from templates and sent by a Celery task after commit.

Subjects are rendered from templates that carry text people typed (workspace and key
names), so every header value is made one safe line before it reaches the mail
library: a line break there would raise `BadHeaderError` and the mail would be lost.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from accounts.jobs import job_enqueue
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


def email_enqueue(*, to: list[str], template: str, context: dict) -> None:
    """Render now (inside the transaction, with the data as it is) and send on commit."""
    subject, body = email_render(template=template, context=context)
    email_enqueue_rendered(to=to, subject=subject, body=body)


def email_enqueue_rendered(*, to: list[str], subject: str, body: str) -> None:
    """Send an already rendered message once the surrounding transaction commits."""
    to = email_recipients_clean(list(to))
    if not to:
        return
    subject = email_header_clean(subject)
    job_enqueue("accounts.tasks.send_email", to=to, subject=subject, body=body)
