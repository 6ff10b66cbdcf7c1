"""Usage writes: ingest the gateway's usage events and compute the daily rollups.

Usage records never hold prompt or output content: an event carries only counts,
timings, the model name, the moderation outcome and, unless the workspace has zero data
retention on, the client IP (encrypted at rest).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.db.models import Count, DateField, Q, Sum, Value
from django.utils import timezone

from accounts.errors import DomainError
from accounts.jobs import job_enqueue
from apikeys.keys.models import ApiKey
from apikeys.usage.models import (
    Moderation,
    UsageDailyRollup,
    UsageRecord,
    UsageWorkspaceDailyRollup,
)

MAX_BATCH_EVENTS = 1000
# Events reported this late are refused (not stored): their day may already be past the
# window in which the rollup task recomputes days.
LATE_EVENT_MAX_DAYS = 7
# The shortest usage retention a workspace can choose is 30 days, so every raw record of
# the last 29 days is still there; recomputing an older day could overwrite a complete
# rollup with what retention left of it.
ROLLUP_MAX_AGE_DAYS = 29

REJECT_UNKNOWN_KEY = "unknown_key"
REJECT_TOO_OLD = "too_old"
REJECT_IN_FUTURE = "in_future"
# Clock skew tolerated between the gateway and us.
FUTURE_TOLERANCE = dt.timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class UsageEvent:
    """One model request as reported by the gateway, already checked for shape."""

    request_id: str
    key_id: str
    occurred_at: dt.datetime
    model: str
    input_tokens: int
    output_tokens: int
    status: int
    latency_ms: int
    moderation: str = Moderation.NONE
    client_ip: str | None = None


@dataclass(frozen=True, slots=True)
class RejectedEvent:
    index: int
    request_id: str
    key_id: str
    reason: str


@dataclass(slots=True)
class UsageIngestResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[RejectedEvent] = field(default_factory=list)
    days: set[dt.date] = field(default_factory=set)


class BatchTooLarge(DomainError):
    status_code = 413
    code = "batch_too_large"


def utc_day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """Return the UTC start of `day` and of the next day."""
    start = dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)
    return start, start + dt.timedelta(days=1)


def _keys_by_public_id(public_ids: Iterable[str]) -> dict[str, tuple[int, object, bool]]:
    # One query for the whole batch. Revoked, expired and deleted keys still count:
    # their requests happened before that. Keys of deleted workspaces do not.
    rows = ApiKey.objects.filter(
        public_id__in=list(public_ids), workspace__deleted_at__isnull=True
    ).values_list("public_id", "pk", "workspace_id", "workspace__zero_data_retention")
    return {public_id: (pk, workspace_id, zdr) for public_id, pk, workspace_id, zdr in rows}


@transaction.atomic
def usage_records_ingest(
    *,
    events: Sequence[UsageEvent],
    received_at: dt.datetime | None = None,
    max_age_days: int = LATE_EVENT_MAX_DAYS,
) -> UsageIngestResult:
    """Store a batch of usage events, each request id at most once.

    Events for keys that do not exist, events older than `max_age_days` (at most
    ROLLUP_MAX_AGE_DAYS, so that every stored day can still be rolled up) and events
    from more than an hour ahead are reported back as rejected and not stored. A
    request id already stored, or repeated within the batch, counts as a duplicate.
    The rollups of the stored events' days are added to in the same transaction, so the
    usage pages read current figures without touching the raw records. When a stored
    event belongs to a day the periodic rollup no longer recomputes, that day's rollup is
    also recomputed on commit.
    """
    if len(events) > MAX_BATCH_EVENTS:
        raise BatchTooLarge(
            f"A batch holds at most {MAX_BATCH_EVENTS} events; this one has {len(events)}."
        )
    received_at = received_at or timezone.now()
    result = UsageIngestResult()
    if not events:
        return result

    keys = _keys_by_public_id({event.key_id for event in events})
    oldest = received_at - dt.timedelta(days=min(max_age_days, ROLLUP_MAX_AGE_DAYS))
    latest = received_at + FUTURE_TOLERANCE
    candidates: dict[str, tuple[UsageEvent, tuple[int, object, bool]]] = {}
    for index, event in enumerate(events):
        key = keys.get(event.key_id)
        if key is None:
            reason = REJECT_UNKNOWN_KEY
        elif event.occurred_at < oldest:
            reason = REJECT_TOO_OLD
        elif event.occurred_at > latest:
            reason = REJECT_IN_FUTURE
        else:
            if event.request_id in candidates:
                result.duplicates += 1
            else:
                candidates[event.request_id] = (event, key)
            continue
        result.rejected.append(
            RejectedEvent(
                index=index, request_id=event.request_id, key_id=event.key_id, reason=reason
            )
        )
    if not candidates:
        return result

    # The UTC day of each event, worked out once for the locks, the rollups and the result.
    utc = dt.UTC
    days = {rid: event.occurred_at.astimezone(utc).date() for rid, (event, _) in candidates.items()}
    _rollup_days_lock(set(days.values()), shared=True)
    if connection.vendor == "postgresql":
        inserted = _insert_postgresql(candidates, received_at=received_at)
    else:
        inserted = _insert_portable(candidates, received_at=received_at)
    _rollups_add(candidates, inserted, days)
    result.accepted = len(inserted)
    result.duplicates += len(candidates) - len(inserted)
    result.days = {days[request_id] for request_id in inserted}

    recent = received_at.astimezone(dt.UTC).date() - dt.timedelta(days=1)
    late_days = sorted(day for day in result.days if day < recent)
    if late_days:
        job_enqueue("apikeys.usage_rollup_days", days=[day.isoformat() for day in late_days])
    return result


# Column order of the bulk insert; every column but the primary key.
_INSERT_FIELDS = (
    "workspace_id",
    "api_key_id",
    "request_id",
    "occurred_at",
    "model",
    "input_tokens",
    "output_tokens",
    "status",
    "latency_ms",
    "moderation",
    "client_ip",
)


def _insert_postgresql(candidates: dict, *, received_at: dt.datetime) -> list[str]:
    """Insert with one `INSERT ... SELECT FROM unnest(...) ON CONFLICT DO NOTHING`.

    Column arrays instead of model instances: Django's per-instance, per-field
    preparation costs several times the database work for a batch of 1,000. RETURNING
    names the rows actually inserted, so the counts stay exact when the same batch is
    replayed concurrently. A request is unique per (request id, time): the table is
    partitioned by time, and a replay carries the time it was first reported with.
    """
    ip_field = UsageRecord._meta.get_field("client_ip")
    columns: tuple[list, ...] = tuple([] for _ in _INSERT_FIELDS)
    (workspaces, keys, request_ids, times, models, inputs, outputs, statuses, latencies,
     moderations, ips) = columns  # fmt: skip
    for request_id, (event, (key_pk, workspace_id, zero_data_retention)) in candidates.items():
        workspaces.append(workspace_id)
        keys.append(key_pk)
        request_ids.append(request_id)
        times.append(event.occurred_at)
        models.append(event.model)
        inputs.append(event.input_tokens)
        outputs.append(event.output_tokens)
        statuses.append(event.status)
        latencies.append(event.latency_ms)
        moderations.append(event.moderation)
        # Encrypted exactly as the model field would (same key, same associated data).
        ip = None if zero_data_retention or event.client_ip is None else event.client_ip
        ips.append(None if ip is None else ip_field.encrypt_value(ip))
    meta = UsageRecord._meta
    qn = connection.ops.quote_name
    fields = [meta.get_field(name) for name in _INSERT_FIELDS]
    names = ", ".join(qn(field.column) for field in fields)
    arrays = ", ".join(f"%s::{field.db_type(connection)}[]" for field in fields)
    received = qn(meta.get_field("received_at").column)
    request_column = qn(meta.get_field("request_id").column)
    # Identifiers and types come from model metadata; every value is a parameter.
    sql = (
        f"INSERT INTO {qn(meta.db_table)} ({names}, {received}) "  # noqa: S608
        f"SELECT *, %s FROM unnest({arrays}) "
        f"ON CONFLICT ({request_column}, {qn(meta.get_field('occurred_at').column)}) DO NOTHING "
        f"RETURNING {request_column}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [received_at, *columns])
        return [row[0] for row in cursor.fetchall()]


def _insert_portable(candidates: dict, *, received_at: dt.datetime) -> list[str]:
    """Insert through the ORM, for databases other than PostgreSQL (the SQLite demo)."""
    stored = set(
        UsageRecord.objects.filter(request_id__in=list(candidates)).values_list(
            "request_id", flat=True
        )
    )
    records = [
        UsageRecord(
            workspace_id=workspace_id,
            api_key_id=key_pk,
            request_id=request_id,
            occurred_at=event.occurred_at,
            model=event.model,
            input_tokens=event.input_tokens,
            output_tokens=event.output_tokens,
            status=event.status,
            latency_ms=event.latency_ms,
            moderation=event.moderation,
            client_ip=None if zero_data_retention else event.client_ip,
            received_at=received_at,
        )
        for request_id, (event, (key_pk, workspace_id, zero_data_retention)) in candidates.items()
        if request_id not in stored
    ]
    # Rows that a concurrent replay inserted meanwhile are skipped by the database.
    UsageRecord.objects.bulk_create(records, ignore_conflicts=True)
    return [record.request_id for record in records]


# Rollup days are locked in this namespace (first key of PostgreSQL's two-key advisory
# locks; the second is the day's ordinal). Ingestion holds a day's lock shared while it
# stores events and adds them to the rollups; a recompute holds it exclusively, so that
# the raw records it reads already hold every increment it overwrites.
_ROLLUP_LOCK_NAMESPACE = 0x55534147  # "USAG"


def _rollup_days_lock(days: Iterable[dt.date], *, shared: bool) -> None:
    if connection.vendor != "postgresql" or not days:
        return
    function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
    ordinals = sorted({day.toordinal() for day in days})
    with connection.cursor() as cursor:
        # In ascending order, so that two batches never wait on each other in a cycle.
        cursor.execute(
            f"SELECT {function}(%s, d) FROM unnest(%s::int[]) AS d ORDER BY d",  # noqa: S608
            [_ROLLUP_LOCK_NAMESPACE, ordinals],
        )


def _rollups_add(candidates: dict, inserted: Iterable[str], days: dict) -> None:
    """Add the stored events to the per-key and the workspace-wide daily rollups."""
    per_key: dict[tuple, list[int]] = {}
    flagged, blocked = Moderation.FLAGGED, Moderation.BLOCKED
    for request_id in inserted:
        event, (key_pk, workspace_id, _zero_data_retention) = candidates[request_id]
        group = (workspace_id, key_pk, days[request_id], event.model)
        totals = per_key.get(group)
        if totals is None:
            totals = per_key[group] = [0, 0, 0, 0, 0, 0]
        totals[0] += 1
        totals[1] += event.input_tokens
        totals[2] += event.output_tokens
        if event.status >= 400:
            totals[3] += 1
        if event.moderation == flagged:
            totals[4] += 1
        elif event.moderation == blocked:
            totals[5] += 1
    per_workspace: dict[tuple, list[int]] = {}
    for (workspace_id, _key_pk, day, model), totals in per_key.items():
        group = (workspace_id, day, model)
        summed = per_workspace.get(group)
        if summed is None:
            per_workspace[group] = list(totals)
        else:
            for index, value in enumerate(totals):
                summed[index] += value
    _rollup_upsert(UsageDailyRollup, ("workspace_id", "api_key_id", "day", "model"), per_key)
    _rollup_upsert(UsageWorkspaceDailyRollup, ("workspace_id", "day", "model"), per_workspace)


def _rollup_upsert(model, group_columns: tuple[str, ...], rows: dict[tuple, list[int]]) -> None:
    """One `INSERT ... ON CONFLICT DO UPDATE` adding `rows` to the rollup table.

    Rows go in the order of their unique key, so concurrent batches lock rollup rows in
    the same order.
    """
    if not rows:
        return
    qn = connection.ops.quote_name
    table = qn(model._meta.db_table)
    columns = [*group_columns, *_ROLLUP_METRICS]
    updates = ", ".join(f"{qn(c)} = {table}.{qn(c)} + EXCLUDED.{qn(c)}" for c in _ROLLUP_METRICS)
    ordered = sorted(rows)
    if connection.vendor == "postgresql":
        # Column arrays, as for the raw records: binding thousands of scalars costs more
        # than the upsert itself.
        table_rows = [group + tuple(rows[group]) for group in ordered]
        params = [list(column) for column in zip(*table_rows, strict=True)]
        fields = [model._meta.get_field(c) for c in columns]
        arrays = ", ".join(f"%s::{field.db_type(connection)}[]" for field in fields)
        source = f"SELECT * FROM unnest({arrays})"  # noqa: S608
    else:
        fields = [model._meta.get_field(c) for c in columns]
        params = [
            field.get_db_prep_value(value, connection)
            for group in ordered
            for field, value in zip(fields, (*group, *rows[group]), strict=True)
        ]
        placeholders = "(" + ", ".join(["%s"] * len(columns)) + ")"
        source = f"VALUES {', '.join([placeholders] * len(rows))}"
    # Identifiers come from model metadata; every value is a parameter.
    sql = (
        f"INSERT INTO {table} ({', '.join(qn(c) for c in columns)}) {source} "
        f"ON CONFLICT ({', '.join(qn(c) for c in group_columns)}) DO UPDATE SET {updates}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _rollup_select(*, day: dt.date, group_columns: tuple[str, ...], workspace_id=None):
    start, end = utc_day_bounds(day)
    records = UsageRecord.objects.filter(occurred_at__gte=start, occurred_at__lt=end)
    if workspace_id is not None:
        records = records.filter(workspace_id=workspace_id)
    return (
        records.order_by()
        .values(*group_columns)
        .annotate(
            rollup_day=Value(day, output_field=DateField()),
            n_requests=Count("id"),
            n_input_tokens=Sum("input_tokens"),
            n_output_tokens=Sum("output_tokens"),
            n_errors=Count("id", filter=Q(status__gte=400)),
            n_flagged=Count("id", filter=Q(moderation=Moderation.FLAGGED)),
            n_blocked=Count("id", filter=Q(moderation=Moderation.BLOCKED)),
        )
    )


# The rollup column each selected value lands in, in the order the SELECT lists them.
_ROLLUP_COLUMNS = {
    "workspace_id": "workspace_id",
    "api_key_id": "api_key_id",
    "model": "model",
    "rollup_day": "day",
    "n_requests": "requests",
    "n_input_tokens": "input_tokens",
    "n_output_tokens": "output_tokens",
    "n_errors": "errors",
    "n_flagged": "flagged",
    "n_blocked": "blocked",
}
_ROLLUP_METRICS = ("requests", "input_tokens", "output_tokens", "errors", "flagged", "blocked")


@transaction.atomic
def usage_rollup_day(*, day: dt.date, workspace_id=None, today: dt.date | None = None) -> int:
    """Recompute the daily rollups of `day` (UTC) from the raw records; return the rows
    of the per-key rollup.

    One `INSERT ... SELECT ... ON CONFLICT DO UPDATE` per rollup table (per key, and
    workspace-wide): running it again gives the same rows. Ingestion of that day waits
    while it runs. A rollup whose raw records are gone is left as it is, so rollups outlive the
    purge of raw records. Only days whose raw records retention cannot have touched yet
    are accepted.
    """
    today = today or timezone.now().astimezone(dt.UTC).date()
    if day > today:
        raise DomainError("Cannot roll up a day in the future.", code="invalid_day")
    if (today - day).days > ROLLUP_MAX_AGE_DAYS:
        raise DomainError(
            f"Only the last {ROLLUP_MAX_AGE_DAYS} days can be recomputed; older raw records "
            "may already be purged.",
            code="invalid_day",
        )
    _rollup_days_lock([day], shared=False)
    rows = 0
    for model, group_columns in (
        (UsageDailyRollup, ("workspace_id", "api_key_id", "model")),
        (UsageWorkspaceDailyRollup, ("workspace_id", "model")),
    ):
        select = _rollup_select(day=day, group_columns=group_columns, workspace_id=workspace_id)
        query = select.query
        selected = [*query.values_select, *query.annotation_select]
        select_sql, params = query.get_compiler(connection=connection).as_sql()
        qn = connection.ops.quote_name
        columns = ", ".join(qn(_ROLLUP_COLUMNS[name]) for name in selected)
        updates = ", ".join(f"{qn(c)} = EXCLUDED.{qn(c)}" for c in _ROLLUP_METRICS)
        table = qn(model._meta.db_table)
        conflict = ", ".join(qn(c) for c in (*group_columns[:-1], "day", "model"))
        # Identifiers come from model metadata; values stay parameters of the compiled SELECT.
        sql = (
            f"INSERT INTO {table} ({columns}) {select_sql} "
            f"ON CONFLICT ({conflict}) DO UPDATE SET {updates}"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            if model is UsageDailyRollup:
                rows = cursor.rowcount
    return rows


def usage_rollup_days(*, days: Iterable[dt.date], today: dt.date | None = None) -> int:
    """Recompute several days; days too old to recompute safely are skipped."""
    today = today or timezone.now().astimezone(dt.UTC).date()
    total = 0
    for day in sorted(set(days)):
        if day > today or (today - day).days > ROLLUP_MAX_AGE_DAYS:
            continue
        total += usage_rollup_day(day=day, today=today)
    return total


def usage_rollup_recent(*, today: dt.date | None = None) -> int:
    """Recompute yesterday and today, the days the gateway is still reporting."""
    today = today or timezone.now().astimezone(dt.UTC).date()
    return usage_rollup_days(days=[today - dt.timedelta(days=1), today], today=today)
