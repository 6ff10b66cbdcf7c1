"""Celery tasks for data exports: thin wrappers with retries."""

from celery import shared_task

from accounts.jobs import job_exclusive
from privacy.exports.services import (
    export_run,
    exports_expire,
    exports_requeue_lost,
    exports_sweep_orphans,
)


@shared_task(
    name="privacy.tasks_export.run_export",
    acks_late=True,
    autoretry_for=(OSError,),
    retry_backoff=True,
    max_retries=3,
)
def run_export(export_id: str) -> None:
    export_run(export_id=export_id)


@shared_task(name="privacy.tasks_export.requeue_lost_exports")
@job_exclusive("privacy.tasks_export.requeue_lost_exports")
def requeue_lost_exports() -> int:
    return exports_requeue_lost()


@shared_task(name="privacy.tasks_export.expire_exports")
@job_exclusive("privacy.tasks_export.expire_exports")
def expire_exports() -> int:
    return exports_expire()


@shared_task(name="privacy.tasks_export.sweep_orphan_files")
@job_exclusive("privacy.tasks_export.sweep_orphan_files")
def sweep_orphan_files() -> int:
    return exports_sweep_orphans()
