"""The usage table partitioned by day (PostgreSQL): partitions, default, pruning, retention."""

import datetime as dt
import json

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import OutboundEmail, Workspace
from apikeys.usage.models import UsageRecord
from apikeys.usage.partitions import (
    usage_default_partition_rows,
    usage_partitioned,
    usage_partitions,
    usage_partitions_maintain,
)
from apikeys.usage.services import usage_records_ingest, usage_rollup_recent
from privacy.retention.services import retention_run
from tests.apikeys.usage_support import NOW, make_key, usage_event
from tests.factories import UserFactory, WorkspaceFactory

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="partitions are PostgreSQL's"),
]


def _create_day_partitions(first: dt.date, last: dt.date) -> None:
    """Create the day partitions of [first, last] (test dates lie outside the live range)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT partman.create_partition_time(current_schema() || '.apikeys_usagerecord', "
            "array(SELECT generate_series(%s::timestamptz, %s::timestamptz, interval '1 day')))",
            [
                dt.datetime.combine(first, dt.time.min, tzinfo=dt.UTC),
                dt.datetime.combine(last, dt.time.min, tzinfo=dt.UTC),
            ],
        )


def _partition_name(day: dt.date) -> str:
    return f"apikeys_usagerecord_p{day:%Y_%m_%d}"


def _scanned(sql: str) -> set[str]:
    """Return the tables a statement's plan reads (EXPLAIN, after plan-time pruning)."""
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}")
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    names: set[str] = set()

    def walk(node):
        if "Relation Name" in node:
            names.add(node["Relation Name"])
        for child in node.get("Plans", []):
            walk(child)

    walk(plan[0]["Plan"])
    return names


def test_the_usage_table_is_partitioned_by_day_a_week_ahead_with_an_empty_default():
    assert usage_partitioned()
    partitions = usage_partitions()
    today = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    assert all(p.end - p.start == dt.timedelta(days=1) for p in partitions)
    assert partitions[-1].end >= today + dt.timedelta(days=7)
    # Ingestion takes events up to 29 days old: their days have partitions.
    assert partitions[0].start <= today - dt.timedelta(days=29)
    assert usage_default_partition_rows() == 0


def test_maintenance_creates_the_partitions_ahead_again():
    newest = usage_partitions()[-3:]
    with connection.cursor() as cursor:
        for partition in newest:
            cursor.execute(f'DROP TABLE "{partition.name}"')
    assert usage_partitions()[-1].end < newest[-1].end

    result = usage_partitions_maintain()

    assert usage_partitions()[-1].end >= newest[-1].end
    assert result["default_rows"] == 0
    assert not OutboundEmail.objects.exists()


def test_rows_in_the_default_partition_alert_staff_once_a_day(workspace):
    UserFactory(email="ops@example.com", is_staff=True, is_superuser=True)
    key = make_key(workspace)
    # A day no partition covers: the row lands in the default partition.
    UsageRecord.objects.create(
        workspace=workspace,
        api_key=key,
        request_id="stray",
        occurred_at=dt.datetime(2001, 1, 1, tzinfo=dt.UTC),
        model="large-1",
    )

    first = usage_partitions_maintain()
    second = usage_partitions_maintain()

    assert (first["default_rows"], second["default_rows"]) == (1, 1)
    emails = list(OutboundEmail.objects.all())
    assert len(emails) == 1
    assert json.loads(emails[0].recipients) == ["ops@example.com"]
    assert "default partition" in emails[0].subject


def test_usage_page_and_api_read_no_raw_record_partition_but_today_s(client, user, workspace):
    today = NOW.date()
    _create_day_partitions(today - dt.timedelta(days=3), today + dt.timedelta(days=1))
    key = make_key(workspace)
    with time_machine.travel(NOW, tick=False):
        usage_records_ingest(
            events=[
                usage_event(key, request_id="y", occurred_at=NOW - dt.timedelta(days=1)),
                usage_event(key, request_id="t"),
            ]
        )
        usage_rollup_recent()
        client.force_login(user)
        kwargs = {"workspace_id": workspace.pk}
        with CaptureQueriesContext(connection) as queries:
            for name in ("usage_dashboard", "usage_csv", "api_workspace_usage"):
                assert client.get(reverse(name, kwargs=kwargs)).status_code == 200

    # The pages read the rollups kept on ingest; whatever still reads raw records must
    # read only today's partition.
    raw = [q["sql"] for q in queries.captured_queries if '"apikeys_usagerecord"' in q["sql"]]
    for sql in raw:
        if sql.lstrip().upper().startswith("SELECT"):
            scanned = _scanned(sql)
            assert scanned == {_partition_name(today)}, (sql, scanned)


def test_a_time_range_of_one_workspace_scans_the_partitions_of_its_days_only():
    workspace_id = Workspace._meta.pk.to_python("00000000-0000-0000-0000-000000000001")
    start = NOW - dt.timedelta(days=2)
    _create_day_partitions(start.date() - dt.timedelta(days=2), NOW.date() + dt.timedelta(days=2))
    query = UsageRecord.objects.filter(
        workspace_id=workspace_id, occurred_at__gte=start, occurred_at__lt=NOW
    )
    sql, params = query.query.sql_with_params()
    with connection.cursor() as cursor:
        sql = cursor.mogrify(sql, params)
    assert _scanned(sql) == {
        _partition_name(start.date() + dt.timedelta(days=d)) for d in (0, 1, 2)
    }


def test_retention_drops_partitions_past_90_days_and_deletes_per_workspace_before():
    now = dt.datetime.now(dt.UTC)
    _create_day_partitions((now - dt.timedelta(days=100)).date(), now.date())
    short, long = WorkspaceFactory(name="Short"), WorkspaceFactory(name="Long")
    Workspace.objects.filter(pk=long.pk).update(usage_retention_days=90)
    keys = {short.pk: make_key(short), long.pk: make_key(long)}
    for workspace in (short, long):
        for age in (95, 60, 10):
            UsageRecord.objects.create(
                workspace=workspace,
                api_key=keys[workspace.pk],
                request_id=f"{workspace.pk}-{age}",
                occurred_at=now - dt.timedelta(days=age),
                model="large-1",
            )
    old_day = (now - dt.timedelta(days=95)).date()
    assert _partition_name(old_day) in {p.name for p in usage_partitions()}

    run = retention_run(now=now)

    assert not run.errors
    assert run.counts["api_usage"] == 3
    # Past the longest period the whole partition is gone, not its rows one by one.
    assert _partition_name(old_day) not in {p.name for p in usage_partitions()}
    left = set(UsageRecord.objects.values_list("request_id", flat=True))
    assert left == {f"{short.pk}-10", f"{long.pk}-60", f"{long.pk}-10"}
