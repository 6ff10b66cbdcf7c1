"""Celery tasks of the support desk."""

from celery import shared_task

from support.services import support_requests_remind_staff


@shared_task(name="support.remind_staff_about_targets")
def remind_staff_about_targets() -> dict:
    return support_requests_remind_staff()
