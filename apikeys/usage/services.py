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

from accounts.emails import email_enqueue
from accounts.errors import DomainError
from accounts.jobs import job_enqueue
from accounts.models import User, Workspace
from accounts.permissions import Role
from accounts.webhooks.events import USAGE_BUDGET_THRESHOLD_CROSSED
from accounts.webhooks.services import webhook_event_record
from apikeys.keys.models import ApiKey
from apikeys.keys.tokens import display
from apikeys.usage.models import (
    BudgetAlert,
    BudgetAlertScope,
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


def _keys_by_public_id(public_ids: Iterable[str]) -> dict[str, tuple[int, object, bool, bool]]:
    # One query for the whole batch. Revoked, expired and deleted keys still count:
    # their requests happened before that. Keys of deleted workspaces do not.
    rows = ApiKey.objects.filter(
        public_id__in=list(public_ids), workspace__deleted_at__isnull=True
    ).values_list(
        "public_id",
        "pk",
        "workspace_id",
        "workspace__zero_data_retention",
        "monthly_token_budget",
        "workspace__monthly_token_budget",
    )
    # The last item says whether a budget (the key's or its workspace's) may need alerts.
    return {
        public_id: (pk, workspace_id, zdr, key_budget is not None or workspace_budget is not None)
        for public_id, pk, workspace_id, zdr, key_budget, workspace_budget in rows
    }


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
    budgeted = [rid for rid in inserted if candidates[rid][1][3]]
    if budgeted:
        budget_alerts_check(
            keys={(candidates[rid][1][0], days[rid].replace(day=1)) for rid in budgeted},
            workspaces={(candidates[rid][1][1], days[rid].replace(day=1)) for rid in budgeted},
        )
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
    for request_id, (
        event,
        (key_pk, workspace_id, zero_data_retention, _budgeted),
    ) in candidates.items():
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
        for request_id, (
            event,
            (key_pk, workspace_id, zero_data_retention, _budgeted),
        ) in candidates.items()
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
        event, (key_pk, workspace_id, _zero_data_retention, _budgeted) = candidates[request_id]
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


# ---------------------------------------------------------------------------- budget alerts

_BUDGET_LOCK_NAMESPACE = 0x42554447  # "BUDG"


@transaction.atomic
def budget_alerts_check(
    *, keys: Iterable[tuple[int, dt.date]], workspaces: Iterable[tuple[object, dt.date]]
) -> list[BudgetAlert]:
    """Send the alerts of every budget threshold the usage stored so far has crossed.

    `keys` and `workspaces` name (key id or workspace id, first day of a month) pairs
    whose usage just grew. Used tokens are the month's rollups (input plus output). Each
    crossed threshold gets one `BudgetAlert` row, inserted only if none exists, and with
    it, in this transaction, one email to the workspace's owners and admins and one
    `usage.budget_threshold_crossed` webhook event. Call it inside the transaction that
    stored the usage: a lock per key and per workspace (taken after the rollups were
    written, in one order) makes the next batch's sums include this one's.
    """
    keys, workspaces = set(keys), set(workspaces)
    budgeted_keys = {
        row[0]: row
        for row in ApiKey.objects.filter(
            pk__in={pk for pk, _month in keys}, monthly_token_budget__isnull=False
        )
        .exclude(budget_alert_thresholds=[])
        .values_list(
            "pk",
            "workspace_id",
            "monthly_token_budget",
            "budget_alert_thresholds",
            "name",
            "environment",
            "public_id",
            "last_four",
        )
    }
    budgeted_workspaces = {
        row[0]: row
        for row in Workspace.objects.filter(
            pk__in={pk for pk, _month in workspaces},
            monthly_token_budget__isnull=False,
            deleted_at__isnull=True,
        )
        .exclude(budget_alert_thresholds=[])
        .values_list("pk", "monthly_token_budget", "budget_alert_thresholds")
    }
    keys = sorted((pk, month) for pk, month in keys if pk in budgeted_keys)
    workspaces = sorted(
        ((pk, month) for pk, month in workspaces if pk in budgeted_workspaces),
        key=lambda item: (str(item[0]), item[1]),
    )
    if not keys and not workspaces:
        return []
    _budget_locks([f"k{pk}" for pk, _month in keys] + [f"w{pk}" for pk, _month in workspaces])
    alerts = []
    for pk, month in keys:
        _pk, workspace_id, budget, thresholds, name, environment, public_id, last_four = (
            budgeted_keys[pk]
        )
        used = _month_tokens(UsageDailyRollup.objects.filter(api_key_id=pk), month)
        key_label = display(environment=environment, public_id=public_id, last_four=last_four)
        alerts += _budget_alerts_send(
            scope=BudgetAlertScope.KEY,
            workspace_id=workspace_id,
            api_key_id=pk,
            month=month,
            budget=budget,
            thresholds=thresholds,
            used=used,
            subject_name=f'API key "{name}" ({key_label})',
            public_id=public_id,
        )
    for pk, month in workspaces:
        _pk, budget, thresholds = budgeted_workspaces[pk]
        used = _month_tokens(UsageWorkspaceDailyRollup.objects.filter(workspace_id=pk), month)
        alerts += _budget_alerts_send(
            scope=BudgetAlertScope.WORKSPACE,
            workspace_id=pk,
            api_key_id=None,
            month=month,
            budget=budget,
            thresholds=thresholds,
            used=used,
            subject_name="The workspace",
            public_id=None,
        )
    return alerts


def _budget_locks(names: list[str]) -> None:
    if connection.vendor != "postgresql" or not names:
        return
    with connection.cursor() as cursor:
        # hashtext() maps each name to an int4; in one order, so batches never wait in a cycle.
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s, hashtext(n)) FROM unnest(%s::text[]) AS n "
            "ORDER BY hashtext(n)",
            [_BUDGET_LOCK_NAMESPACE, sorted(set(names))],
        )


def _month_tokens(rollups, month: dt.date) -> int:
    end = (month + dt.timedelta(days=32)).replace(day=1)
    totals = rollups.filter(day__gte=month, day__lt=end).aggregate(
        input=Sum("input_tokens"), output=Sum("output_tokens")
    )
    return int(totals["input"] or 0) + int(totals["output"] or 0)


def _budget_alerts_send(
    *,
    scope: str,
    workspace_id,
    api_key_id: int | None,
    month: dt.date,
    budget: int,
    thresholds: list[int],
    used: int,
    subject_name: str,
    public_id: str | None,
) -> list[BudgetAlert]:
    period = f"{month:%Y-%m}"
    crossed = [t for t in sorted(set(thresholds)) if used * 100 >= budget * t]
    alerts = []
    for threshold in crossed:
        alert = _budget_alert_insert(
            scope=scope,
            workspace_id=workspace_id,
            api_key_id=api_key_id,
            period=period,
            threshold=threshold,
            budget=budget,
            used=used,
        )
        if alert is None:
            continue
        alerts.append(alert)
        workspace = Workspace.objects.get(pk=workspace_id)
        recipients = list(
            User.objects.filter(
                memberships__workspace_id=workspace_id,
                memberships__role__in=[Role.OWNER, Role.ADMIN],
                is_active=True,
            )
            .order_by("pk")
            .values_list("email", flat=True)
            .distinct()
        )
        if recipients:
            # Service mail about the account, not marketing: sent whatever the marketing
            # preference says.
            email_enqueue(
                to=recipients,
                template="apikeys/email/budget_alert",
                context={
                    "workspace_name": workspace.name,
                    "subject_name": subject_name,
                    "scope": scope,
                    "threshold": threshold,
                    "budget": budget,
                    "used": used,
                    "period": period,
                    "workspace_id": workspace.pk,
                },
                kind="budget_alert",
                ref=str(alert.pk),
            )
        data = {
            "scope": scope,
            "workspace_id": str(workspace_id),
            "threshold_percent": threshold,
            "budget_tokens": budget,
            "used_tokens": used,
            "period": period,
        }
        if public_id is not None:
            data["api_key_id"] = public_id
        webhook_event_record(
            workspace=workspace, event_type=USAGE_BUDGET_THRESHOLD_CROSSED, data=data
        )
    return alerts


def _budget_alert_insert(
    *, scope, workspace_id, api_key_id, period, threshold, budget, used
) -> BudgetAlert | None:
    """Insert the alert's row unless one exists; return it only if this call inserted it."""
    table = BudgetAlert._meta.db_table
    now = timezone.now()
    with connection.cursor() as cursor:
        # A conditional insert: exactly one of many concurrent ones returns a row.
        cursor.execute(
            f"INSERT INTO {connection.ops.quote_name(table)} "  # noqa: S608
            "(workspace_id, api_key_id, scope, period, threshold_percent, budget_tokens, "
            "used_tokens, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT DO NOTHING RETURNING id",
            [
                BudgetAlert._meta.get_field("workspace").get_db_prep_value(
                    workspace_id, connection
                ),
                api_key_id,
                scope,
                period,
                threshold,
                budget,
                used,
                BudgetAlert._meta.get_field("created_at").get_db_prep_value(now, connection),
            ],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    return BudgetAlert(
        pk=row[0],
        workspace_id=workspace_id,
        api_key_id=api_key_id,
        scope=scope,
        period=period,
        threshold_percent=threshold,
        budget_tokens=budget,
        used_tokens=used,
        created_at=now,
    )
