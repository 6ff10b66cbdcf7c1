"""Celery tasks of the support desk."""

from celery import shared_task

from accounts.jobs import job_exclusive
from support.services import support_requests_remind_staff


@shared_task(name="support.remind_staff_about_targets")
@job_exclusive("support.remind_staff_about_targets")
def remind_staff_about_targets() -> dict:
    return support_requests_remind_staff()
