"""Celery tasks for privacy requests."""

from celery import shared_task

from privacy.requests import privacy_requests_alert_staff


@shared_task
def alert_staff_about_deadlines() -> dict:
    return privacy_requests_alert_staff()
