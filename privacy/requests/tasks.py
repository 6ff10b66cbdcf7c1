"""Celery tasks for privacy requests."""

from celery import shared_task

from accounts.jobs import job_exclusive
from privacy.requests.services import privacy_requests_alert_staff


@shared_task(name="privacy.tasks_requests.alert_staff_about_deadlines")
@job_exclusive("privacy.tasks_requests.alert_staff_about_deadlines")
def alert_staff_about_deadlines() -> dict:
    return privacy_requests_alert_staff()
