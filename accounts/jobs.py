"""Start background jobs by task name once the current transaction commits.

Services sit below the task modules that call them, so a service never imports a task
module (that would be an import circle): it names the task instead. The name is the
one the task is registered under in Celery (`@shared_task(name=...)`), which is also
what beat schedules and queued messages hold, so it never changes with the code's
layout. Celery's own registry resolves it, which keeps eager mode (the test settings)
working: the task runs in-process exactly as `.delay()` would run it.
"""

from __future__ import annotations

from functools import partial

from celery import current_app
from celery.exceptions import NotRegistered
from django.db import transaction


def job_task(name: str):
    """Return the task registered as `name`, importing the task modules if need be.

    A web process has not imported the task modules (only workers do at start-up), so
    the first look-up asks Celery's loader for them: `<app>.tasks` of every installed
    app and the feature task modules listed in `CELERY_IMPORTS`.
    """
    tasks = current_app.tasks
    if name not in tasks:
        current_app.loader.import_default_modules()
    if name not in tasks:
        raise NotRegistered(name)
    return tasks[name]


def job_start(name: str, /, **kwargs) -> None:
    """Queue the task `name` with keyword arguments now."""
    job_task(name).delay(**kwargs)


def job_enqueue(name: str, /, **kwargs) -> None:
    """Queue the task `name` with keyword arguments after the transaction commits.

    The name is checked at once, so a typo fails the request that made it rather than
    a commit hook nobody watches.
    """
    job_task(name)
    transaction.on_commit(partial(job_start, name, **kwargs))
