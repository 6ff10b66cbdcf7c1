"""Outgoing email, rendered from templates and sent by a Celery task after commit."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from accounts.jobs import job_enqueue


def email_render(*, template: str, context: dict) -> tuple[str, str]:
    """Render `accounts/email/<template>_subject.txt` and `_message.txt`."""
    ctx = {"site_url": settings.SITE_URL, **context}
    subject = render_to_string(f"{template}_subject.txt", ctx).strip()
    body = render_to_string(f"{template}_message.txt", ctx)
    return subject, body


def email_send_now(*, to: list[str], subject: str, body: str) -> None:
    message = EmailMultiAlternatives(
        subject=subject, body=body, from_email=settings.DEFAULT_FROM_EMAIL, to=to
    )
    message.send()


def email_enqueue(*, to: list[str], template: str, context: dict) -> None:
    """Render now (inside the transaction, with the data as it is) and send on commit."""
    subject, body = email_render(template=template, context=context)
    job_enqueue("accounts.tasks.send_email", to=to, subject=subject, body=body)
