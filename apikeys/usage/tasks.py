"""Celery tasks for usage rollups and partitions. Thin: arguments in, one service call."""

from __future__ import annotations

import datetime as dt

from celery import shared_task

from accounts.jobs import job_exclusive
from apikeys.usage import partitions
from apikeys.usage import services as usage


@shared_task(
    name="apikeys.usage_rollup_recent",
    autoretry_for=(Exception,),
    retry_backoff=True,
    max_retries=3,
)
@job_exclusive("apikeys.usage_rollup_recent")
def usage_rollup_recent_task() -> int:
    """Recompute the rollups of yesterday and today (run by beat every few minutes)."""
    return usage.usage_rollup_recent()


@shared_task(
    name="apikeys.usage_rollup_days",
    autoretry_for=(Exception,),
    retry_backoff=True,
    max_retries=5,
)
def usage_rollup_days_task(days: list[str]) -> int:
    """Recompute the rollups of the given ISO days (late events reported for them)."""
    return usage.usage_rollup_days(days=[dt.date.fromisoformat(day) for day in days])


@shared_task(
    name="apikeys.usage_partitions_maintain",
    autoretry_for=(Exception,),
    retry_backoff=True,
    max_retries=3,
)
@job_exclusive("apikeys.usage_partitions_maintain")
def usage_partitions_maintain_task() -> dict:
    """Create the usage partitions due ahead; alert staff if the default one holds rows."""
    return partitions.usage_partitions_maintain()
