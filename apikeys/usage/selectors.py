"""Usage reads. Callers resolve the workspace with `workspace_get_for_user` first; every
query here filters by that workspace.

Every figure comes from the daily rollups, which ingestion keeps current (today
included) and which outlive the raw records. Workspace-wide figures read the
workspace rollup (one row per day and model), and per-key figures read the per-key
rollup of a page of keys at a time, so that no page costs more with more keys or more
requests.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from django.db.models import Q, Sum
from django.utils import timezone

from accounts.errors import NotFound
from accounts.models import Workspace
from apikeys.keys.models import ApiKey
from apikeys.usage.models import UsageDailyRollup, UsageWorkspaceDailyRollup
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


def usage_models_for_filter(*, workspace: Workspace, since: dt.date) -> list[str]:
    """Model names with usage in the workspace since `since`, for the model filter."""
    return list(
        UsageWorkspaceDailyRollup.objects.filter(workspace=workspace, day__gte=since)
        .order_by("model")
        .values_list("model", flat=True)
        .distinct()
    )


def _rollup_aggregates() -> dict:
    return {f"n_{metric}": Sum(metric) for metric in METRICS}


def _rollups(*, workspace: Workspace, query: UsageQuery, per_key: bool = False):
    """The rollup rows of the query: workspace-wide unless a key is filtered on or asked."""
    if query.api_key is None and not per_key:
        rows = UsageWorkspaceDailyRollup.objects.filter(workspace=workspace)
    else:
        rows = UsageDailyRollup.objects.filter(workspace=workspace)
        if query.api_key is not None:
            rows = rows.filter(api_key=query.api_key)
    rows = rows.filter(day__gte=query.start, day__lte=query.end)
    if query.model:
        rows = rows.filter(model=query.model)
    return rows.order_by()


def _grouped(rows, field: str) -> dict:
    """Sum the metrics of rollup rows per value of `field`."""
    groups = {}
    for row in rows.values(field).annotate(**_rollup_aggregates()):
        groups[row[field]] = {metric: row[f"n_{metric}"] or 0 for metric in METRICS}
    return groups


def _days(start: dt.date, end: dt.date) -> Iterator[dt.date]:
    day = start
    while day <= end:
        yield day
        day += dt.timedelta(days=1)


def _day_rows(groups: dict, query: UsageQuery) -> list[dict]:
    zero = dict.fromkeys(METRICS, 0)
    return [{"day": day, **groups.get(day, zero)} for day in _days(query.start, query.end)]


def _model_rows(groups: dict) -> list[dict]:
    rows = [{"model": model, **totals} for model, totals in groups.items()]
    rows.sort(key=lambda row: (-row["requests"], row["model"]))
    return rows


def usage_by_day(*, workspace: Workspace, query: UsageQuery) -> list[dict]:
    """Return one row per day of the range, days without usage included (as zeros)."""
    return _day_rows(_grouped(_rollups(workspace=workspace, query=query), "day"), query)


def usage_by_day_and_model(*, workspace: Workspace, query: UsageQuery) -> tuple[list, list]:
    """Return what `usage_by_day` and `usage_by_model` return, from one read of the
    rollups (at most one row per day and model)."""
    rows = (
        _rollups(workspace=workspace, query=query)
        .values("day", "model")
        .annotate(**_rollup_aggregates())
    )
    days: dict = {}
    models: dict = {}
    for row in rows:
        for groups, key in ((days, row["day"]), (models, row["model"])):
            totals = groups.get(key)
            if totals is None:
                totals = groups[key] = dict.fromkeys(METRICS, 0)
            for metric in METRICS:
                totals[metric] += row[f"n_{metric}"] or 0
    return _day_rows(days, query), _model_rows(models)


def usage_keys_for_range(*, workspace: Workspace, query: UsageQuery):
    """The keys a per-key table lists, by name: the key filtered on, or the workspace's
    keys except those deleted before the range began (they can have no usage in it).

    Callers page through it and pass a page to `usage_by_key`.
    """
    keys = ApiKey.objects.filter(workspace=workspace)
    if query.api_key is not None:
        keys = keys.filter(pk=query.api_key.pk)
    else:
        range_start, _ = utc_day_bounds(query.start)
        keys = keys.filter(Q(deleted_at__isnull=True) | Q(deleted_at__gte=range_start))
    return keys.order_by("name", "public_id").only("pk", "public_id", "name", "deleted_at")


def usage_by_key(*, workspace: Workspace, query: UsageQuery, keys) -> list[dict]:
    """Return one row per key of `keys` (a page of `usage_keys_for_range`), in that order,
    keys without usage in the range included (as zeros)."""
    keys = list(keys)
    zero = dict.fromkeys(METRICS, 0)
    groups = {}
    if keys:
        rows = _rollups(workspace=workspace, query=query, per_key=True).filter(
            api_key__in=[key.pk for key in keys]
        )
        groups = _grouped(rows, "api_key_id")
    return [
        {
            "key_id": key.public_id,
            "key_name": key.name,
            "key_deleted": key.deleted_at is not None,
            **groups.get(key.pk, zero),
        }
        for key in keys
    ]


def usage_by_model(*, workspace: Workspace, query: UsageQuery) -> list[dict]:
    """Return one row per model with usage in the range, busiest first."""
    return _model_rows(_grouped(_rollups(workspace=workspace, query=query), "model"))


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

    Rollup rows are streamed from the database rather than loaded at once.
    """
    keys, names = {}, {}
    for pk, public_id, name in ApiKey.objects.filter(workspace=workspace).values_list(
        "pk", "public_id", "name"
    ):
        keys[pk], names[pk] = public_id, name
    values = (
        _rollups(workspace=workspace, query=query, per_key=True)
        .order_by("day", "api_key_id", "model")
        .values("day", "api_key_id", "model", *METRICS)
    )
    for row in values.iterator(chunk_size=2000):
        yield {
            "day": row["day"],
            "key_id": keys.get(row["api_key_id"], ""),
            "key_name": names.get(row["api_key_id"], ""),
            "model": row["model"],
            **{metric: row[metric] for metric in METRICS},
        }


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
