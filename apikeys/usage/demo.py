"""Sample usage for the local demo workspace (a `demo_setup` seeder)."""

from __future__ import annotations

import datetime as dt
import random

from django.utils import timezone

from apikeys.keys.models import ApiKey
from apikeys.keys.tokens import Environment
from apikeys.usage.models import Moderation, UsageDailyRollup, UsageRecord
from apikeys.usage.services import (
    MAX_BATCH_EVENTS,
    ROLLUP_MAX_AGE_DAYS,
    UsageEvent,
    usage_records_ingest,
    usage_rollup_days,
)

DEMO_KEY_NAME = "Demo usage"
DEMO_DAYS = ROLLUP_MAX_AGE_DAYS  # every seeded day can still be rolled up
DEMO_MODELS = (("large-1", 5), ("small-1", 3), ("embed-1", 1))


def _demo_keys(*, user, workspace) -> list[ApiKey]:
    from apikeys.keys.services import api_key_create

    keys = list(ApiKey.objects.visible().for_workspace(workspace).order_by("created_at")[:3])
    if not any(key.name == DEMO_KEY_NAME for key in keys):
        api_key, _full_key = api_key_create(
            workspace=workspace,
            actor=user,
            name=DEMO_KEY_NAME,
            environment=Environment.DEVELOPMENT,
            scopes=["inference", "usage.read"],
        )
        keys.append(api_key)
    return keys


def _events(keys: list[ApiKey], *, now: dt.datetime, rng: random.Random) -> list[UsageEvent]:
    models = [name for name, weight in DEMO_MODELS for _ in range(weight)]
    events = []
    for days_ago in range(DEMO_DAYS - 1, -1, -1):
        day_start = (now - dt.timedelta(days=days_ago)).replace(
            hour=0, minute=0, second=0, microsecond=0
        )
        # Weekdays are busier, and the trend grows over the month.
        weekday = day_start.weekday() < 5
        count = int((60 if weekday else 25) * (1 + (DEMO_DAYS - days_ago) / DEMO_DAYS))
        for index in range(count):
            occurred_at = day_start + dt.timedelta(seconds=rng.randint(0, 86_399))
            if occurred_at > now:
                continue
            roll = rng.random()
            events.append(
                UsageEvent(
                    request_id=f"demo-{day_start:%Y%m%d}-{index}",
                    key_id=rng.choice(keys).public_id,
                    occurred_at=occurred_at,
                    model=rng.choice(models),
                    input_tokens=rng.randint(50, 4000),
                    output_tokens=rng.randint(10, 1200),
                    status=429 if roll < 0.02 else 200,
                    latency_ms=rng.randint(80, 6000),
                    moderation=Moderation.FLAGGED
                    if roll > 0.985
                    else Moderation.BLOCKED
                    if roll > 0.98
                    else Moderation.NONE,
                    client_ip=f"198.51.100.{rng.randint(1, 254)}",
                )
            )
    return events


def usage_demo_seed(*, user, workspace) -> list[str]:
    """Give the demo workspace about a month of sample usage, once."""
    if (
        UsageRecord.objects.filter(workspace=workspace).exists()
        or UsageDailyRollup.objects.filter(workspace=workspace).exists()
    ):
        return []
    keys = _demo_keys(user=user, workspace=workspace)
    now = timezone.now()
    events = _events(keys, now=now, rng=random.Random(str(workspace.pk)))
    stored = 0
    for start in range(0, len(events), MAX_BATCH_EVENTS):
        result = usage_records_ingest(
            events=events[start : start + MAX_BATCH_EVENTS],
            received_at=now,
            max_age_days=DEMO_DAYS,
        )
        stored += result.accepted
    today = now.astimezone(dt.UTC).date()
    usage_rollup_days(days=[today - dt.timedelta(days=n) for n in range(DEMO_DAYS + 1)])
    return [f"Usage: {stored} sample requests over the last {DEMO_DAYS} days."]
