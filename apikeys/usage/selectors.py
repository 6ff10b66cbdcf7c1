"""Usage reads. Callers resolve the workspace with `workspace_get_for_user` first; every
query here filters by that workspace.

Past days come from the daily rollups (they outlive the raw records); today comes live
from the raw records, which the rollup task has not finished with yet.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from django.db.models import Count, Q, Sum
from django.utils import timezone

from accounts.errors import NotFound
from accounts.models import Workspace
from apikeys.keys.models import ApiKey
from apikeys.usage.models import Moderation, UsageDailyRollup, UsageRecord
from apikeys.usage.services import utc_day_bounds

METRICS = ("requests", "input_tokens", "output_tokens", "errors", "flagged", "blocked")
GROUP_BY_FIELDS = {"day": "day", "key": "api_key_id", "model": "model"}
DEFAULT_RANGE_DAYS = 30
MAX_RANGE_DAYS = 366


@dataclass(frozen=True)
class UsageQuery:
    """What to read: an inclusive range of UTC days and optional key and model filters."""

    start: dt.date
    end: dt.date
    api_key: ApiKey | None = None
    model: str = ""


def utc_today() -> dt.date:
    return timezone.now().astimezone(dt.UTC).date()


def usage_default_range(*, days: int = DEFAULT_RANGE_DAYS) -> tuple[dt.date, dt.date]:
    """Return the last `days` days, today included."""
    today = utc_today()
    return today - dt.timedelta(days=days - 1), today


def usage_key_get(*, workspace: Workspace, public_id: str) -> ApiKey:
    """Return the workspace's key with this public id (deleted keys too: they had usage)."""
    api_key = ApiKey.objects.filter(workspace=workspace, public_id=public_id).first()
    if api_key is None:
        raise NotFound("No such key in this workspace.")
    return api_key


def usage_keys_for_filter(*, workspace: Workspace):
    """Keys to offer in the key filter: the workspace's visible keys."""
    return ApiKey.objects.visible().for_workspace(workspace).order_by("name", "public_id")


def usage_models_for_filter(*, workspace: Workspace, since: dt.date) -> list[str]:
    """Model names with usage in the workspace since `since`, for the model filter."""
    names = set(
        UsageDailyRollup.objects.filter(workspace=workspace, day__gte=since)
        .values_list("model", flat=True)
        .distinct()
    )
    start, end = utc_day_bounds(utc_today())
    names.update(
        UsageRecord.objects.filter(workspace=workspace, occurred_at__gte=start, occurred_at__lt=end)
        .order_by()
        .values_list("model", flat=True)
        .distinct()
    )
    return sorted(names)


def _rollup_aggregates() -> dict:
    return {f"n_{metric}": Sum(metric) for metric in METRICS}


def _raw_aggregates() -> dict:
    return {
        "n_requests": Count("id"),
        "n_input_tokens": Sum("input_tokens"),
        "n_output_tokens": Sum("output_tokens"),
        "n_errors": Count("id", filter=Q(status__gte=400)),
        "n_flagged": Count("id", filter=Q(moderation=Moderation.FLAGGED)),
        "n_blocked": Count("id", filter=Q(moderation=Moderation.BLOCKED)),
    }


def _grouped(*, workspace: Workspace, query: UsageQuery, group_by: str) -> dict:
    """Sum the metrics per group value over rollups (past days) and raw records (today)."""
    field = GROUP_BY_FIELDS[group_by]
    today = utc_today()
    groups: dict = {}

    def add(value, row: dict) -> None:
        totals = groups.setdefault(value, dict.fromkeys(METRICS, 0))
        for metric in METRICS:
            totals[metric] += row[f"n_{metric}"] or 0

    last_rolled_day = min(query.end, today - dt.timedelta(days=1))
    if query.start <= last_rolled_day:
        rollups = UsageDailyRollup.objects.filter(
            workspace=workspace, day__gte=query.start, day__lte=last_rolled_day
        )
        if query.api_key is not None:
            rollups = rollups.filter(api_key=query.api_key)
        if query.model:
            rollups = rollups.filter(model=query.model)
        for row in rollups.order_by().values(field).annotate(**_rollup_aggregates()):
            add(row[field], row)

    if query.start <= today <= query.end:
        start, end = utc_day_bounds(today)
        records = UsageRecord.objects.filter(
            workspace=workspace, occurred_at__gte=start, occurred_at__lt=end
        )
        if query.api_key is not None:
            records = records.filter(api_key=query.api_key)
        if query.model:
            records = records.filter(model=query.model)
        if group_by == "day":
            row = records.order_by().aggregate(**_raw_aggregates())
            if row["n_requests"]:
                add(today, row)
        else:
            for row in records.order_by().values(field).annotate(**_raw_aggregates()):
                add(row[field], row)
    return groups


def _days(start: dt.date, end: dt.date) -> Iterator[dt.date]:
    day = start
    while day <= end:
        yield day
        day += dt.timedelta(days=1)


def usage_by_day(*, workspace: Workspace, query: UsageQuery) -> list[dict]:
    """Return one row per day of the range, days without usage included (as zeros)."""
    groups = _grouped(workspace=workspace, query=query, group_by="day")
    zero = dict.fromkeys(METRICS, 0)
    return [{"day": day, **groups.get(day, zero)} for day in _days(query.start, query.end)]


def usage_by_key(*, workspace: Workspace, query: UsageQuery) -> list[dict]:
    """Return one row per key with usage in the range, busiest first."""
    groups = _grouped(workspace=workspace, query=query, group_by="key")
    keys = {
        key.pk: key
        for key in ApiKey.objects.filter(workspace=workspace, pk__in=list(groups)).only(
            "pk", "public_id", "name", "deleted_at", "revoked_at"
        )
    }
    rows = []
    for key_pk, totals in groups.items():
        key = keys.get(key_pk)
        if key is None:
            continue
        rows.append(
            {
                "key_id": key.public_id,
                "key_name": key.name,
                "key_deleted": key.deleted_at is not None,
                **totals,
            }
        )
    rows.sort(key=lambda row: (-row["requests"], row["key_name"], row["key_id"]))
    return rows


def usage_by_model(*, workspace: Workspace, query: UsageQuery) -> list[dict]:
    """Return one row per model with usage in the range, busiest first."""
    groups = _grouped(workspace=workspace, query=query, group_by="model")
    rows = [{"model": model, **totals} for model, totals in groups.items()]
    rows.sort(key=lambda row: (-row["requests"], row["model"]))
    return rows


def usage_totals(rows: list[dict]) -> dict:
    """Sum the metrics of rows from one of the `usage_by_*` selectors."""
    totals = dict.fromkeys(METRICS, 0)
    for row in rows:
        for metric in METRICS:
            totals[metric] += row[metric]
    totals["tokens"] = totals["input_tokens"] + totals["output_tokens"]
    return totals


def usage_detail_rows(*, workspace: Workspace, query: UsageQuery) -> Iterator[dict]:
    """Yield one row per day, key and model (the CSV export), oldest day first.

    Rollup rows are streamed from the database rather than loaded at once; today's
    rows come last, aggregated from the raw records.
    """
    today = utc_today()
    keys, names = {}, {}
    for pk, public_id, name in ApiKey.objects.filter(workspace=workspace).values_list(
        "pk", "public_id", "name"
    ):
        keys[pk], names[pk] = public_id, name

    def shaped(day, row) -> dict:
        return {
            "day": day,
            "key_id": keys.get(row["api_key_id"], ""),
            "key_name": names.get(row["api_key_id"], ""),
            "model": row["model"],
            **{metric: row[f"n_{metric}"] or 0 for metric in METRICS},
        }

    last_rolled_day = min(query.end, today - dt.timedelta(days=1))
    if query.start <= last_rolled_day:
        rollups = UsageDailyRollup.objects.filter(
            workspace=workspace, day__gte=query.start, day__lte=last_rolled_day
        )
        if query.api_key is not None:
            rollups = rollups.filter(api_key=query.api_key)
        if query.model:
            rollups = rollups.filter(model=query.model)
        values = rollups.order_by("day", "api_key_id", "model").values(
            "day", "api_key_id", "model", *METRICS
        )
        for row in values.iterator(chunk_size=2000):
            yield {
                "day": row["day"],
                "key_id": keys.get(row["api_key_id"], ""),
                "key_name": names.get(row["api_key_id"], ""),
                "model": row["model"],
                **{metric: row[metric] for metric in METRICS},
            }

    if query.start <= today <= query.end:
        start, end = utc_day_bounds(today)
        records = UsageRecord.objects.filter(
            workspace=workspace, occurred_at__gte=start, occurred_at__lt=end
        )
        if query.api_key is not None:
            records = records.filter(api_key=query.api_key)
        if query.model:
            records = records.filter(model=query.model)
        grouped = (
            records.order_by()
            .values("api_key_id", "model")
            .annotate(**_raw_aggregates())
            .order_by("api_key_id", "model")
        )
        for row in grouped:
            yield shaped(today, row)


def usage_series_for_key(
    *, workspace: Workspace, api_key: ApiKey, days: int = DEFAULT_RANGE_DAYS
) -> dict:
    """Return the daily usage of one key over the last `days` days, for its detail page.

    The result feeds the `apikeys/usage_key_chart.html` include as `usage_key_series`.
    """
    if api_key.workspace_id != workspace.pk:
        raise NotFound("No such key in this workspace.")
    days = max(1, min(int(days), MAX_RANGE_DAYS))
    start, end = usage_default_range(days=days)
    query = UsageQuery(start=start, end=end, api_key=api_key)
    rows = usage_by_day(workspace=workspace, query=query)
    return {
        "key_id": api_key.public_id,
        "start": start,
        "end": end,
        "days": rows,
        "totals": usage_totals(rows),
        "chart": usage_chart_data(rows),
    }


def usage_chart_data(rows: list[dict]) -> list[dict]:
    """Shape daily rows for the chart script: ISO dates and plain integers only."""
    return [
        {
            "day": row["day"].isoformat(),
            "requests": row["requests"],
            "input_tokens": row["input_tokens"],
            "output_tokens": row["output_tokens"],
            "flagged": row["flagged"],
            "blocked": row["blocked"],
            "errors": row["errors"],
        }
        for row in rows
    ]
