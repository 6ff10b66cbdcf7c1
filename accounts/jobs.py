"""Start background jobs by task name once the current transaction commits, and keep
the jobs that must not overlap from running twice at once.

Services sit below the task modules that call them, so a service never imports a task
module (that would be an import circle): it names the task instead. The name is the
one the task is registered under in Celery (`@shared_task(name=...)`), which is also
what beat schedules and queued messages hold, so it never changes with the code's
layout. Celery's own registry resolves it, which keeps eager mode (the test settings)
working: the task runs in-process exactly as `.delay()` would run it.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial, wraps
from pathlib import Path

from celery import current_app
from celery.exceptions import NotRegistered
from django.conf import settings
from django.db import DatabaseError, connection, transaction

logger = logging.getLogger(__name__)

# The first half of every advisory lock key the console takes ("cons"), so its job
# locks never collide with another program's advisory locks on the same database.
ADVISORY_LOCK_CLASS = 0x636F6E73


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


def _advisory_lock_key(name: str) -> int:
    digest = hashlib.blake2b(name.encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big", signed=True)


@contextmanager
def _advisory_lock(name: str) -> Iterator[bool]:
    """Hold a PostgreSQL session advisory lock on this process's connection.

    The server releases it when the connection ends, so a worker that is killed frees
    it at once; nothing has to expire and no clock is trusted.
    """
    key = (ADVISORY_LOCK_CLASS, _advisory_lock_key(name))
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", key)
        taken = cursor.fetchone()[0]
    try:
        yield taken
    finally:
        if taken:
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s, %s)", key)
            except DatabaseError:
                # A broken connection has lost the lock already; closing it makes sure.
                connection.close()


@contextmanager
def _file_lock(name: str) -> Iterator[bool]:
    """Hold an exclusive flock on a file in JOB_LOCK_DIR (SQLite: one machine).

    The kernel releases it when the process exits, however it exits.
    """
    folder = Path(settings.JOB_LOCK_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(
        folder / f"{hashlib.sha256(name.encode()).hexdigest()[:32]}.lock",
        os.O_RDWR | os.O_CREAT,
        0o600,
    )
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            taken = True
        except BlockingIOError:
            taken = False
        try:
            yield taken
        finally:
            if taken:
                fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@contextmanager
def job_lock(name: str) -> Iterator[bool]:
    """Take the lock `name` for the block if no one holds it; yield whether it was taken.

    It never waits. A holder that dies (killed worker, lost machine) gives it up with
    its database connection or, on SQLite, with its process.
    """
    lock = _advisory_lock if connection.vendor == "postgresql" else _file_lock
    with lock(name) as taken:
        yield taken


def job_exclusive(name: str) -> Callable:
    """Run the decorated task body only while holding the lock `name`; skip otherwise.

    For jobs beat starts on a timer (sweeps, flushes, rollups, the retention run): a
    copy that finds another still running has nothing to add, so it logs and returns
    None, and the next tick runs as usual.
    """

    def decorate(func: Callable) -> Callable:
        @wraps(func)
        def run(*args, **kwargs):
            with job_lock(name) as taken:
                if not taken:
                    logger.info("job %s skipped: another copy is running", name)
                    return None
                return func(*args, **kwargs)

        run.job_lock_name = name
        return run

    return decorate
