"""Benchmark: usage partitioned by day, with 20,000,000 rows over 120 days.

2,000 workspaces with usage periods from 30 to 90 days; rows spread evenly over the
last 120 days and the workspaces, loaded with one INSERT ... SELECT generate_series per
day (straight into that day's partition). Prints, from one run on one database:

- the load (rows, partitions, time);
- a workspace's 30-day usage page (`GET /w/<id>/usage/`, rollups of past days and
  today's raw records), server-side through Django's test client, median and p95 of 20,
  and the partitions its raw-record query scans (EXPLAIN);
- the floor: one raw DELETE of exactly the rows the retention run removes, in a
  transaction then rolled back (a DELETE's cost is in the doing, not the commit);
- the retention run: total time, ratio to the floor, longest batch transaction, the
  partitions it dropped and the rows it deleted one by one.

    .venv/bin/python bench/bench_usage_partitions.py [--rows 20000000] [--workspaces 2000]

Runs on its own database (console_bench_partitions on the server of DATABASE_URL),
dropped and created again. Ingestion is measured by bench/bench_usage_ingest.py.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings.test")

from bench.databases import database_urls, recreate_database  # noqa: E402

NAME = "console_bench_partitions"
DAYS = 120

EXPIRED_SQL = """
FROM apikeys_usagerecord u JOIN accounts_workspace w ON u.workspace_id = w.id
WHERE u.occurred_at < %s - w.usage_retention_days * interval '1 day'
"""


def setup() -> None:
    maintenance, url = database_urls(NAME)
    os.environ["DATABASE_URL"] = url
    recreate_database(maintenance, NAME)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def load(*, rows: int, workspaces: list, now) -> float:
    """Create a partition per day of the last DAYS days and fill them, a day at a time."""
    from django.db import connection

    per_day = rows // DAYS
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT partman.create_partition_time(current_schema() || '.apikeys_usagerecord', "
            "array(SELECT generate_series(date_trunc('day', %s::timestamptz) - %s * "
            "interval '1 day', %s::timestamptz, interval '1 day')))",
            [now, DAYS, now],
        )
        for day in range(DAYS, 0, -1):
            # Ids follow time, as when the gateway reports usage as it happens.
            cursor.execute(
                """
                INSERT INTO apikeys_usagerecord (workspace_id, api_key_id, request_id,
                    occurred_at, model, input_tokens, output_tokens, status, latency_ms,
                    moderation, received_at)
                SELECT (%s::uuid[])[1 + g %% %s], 1 + g %% %s, 'r' || %s || '-' || g,
                       %s - %s * interval '1 day' + g * (interval '1 day' / %s),
                       'model-' || (g %% 3), 100, 200, CASE WHEN g %% 50 = 0 THEN 500 ELSE 200 END,
                       50, 'none', now()
                FROM generate_series(0, %s - 1) g
                """,
                [workspaces, len(workspaces), len(workspaces), day, now, day, per_day, per_day],
            )
            if day % 20 == 0:
                print(f"  loaded {(DAYS - day + 1) * per_day:,} rows", flush=True)
        cursor.execute("VACUUM ANALYZE apikeys_usagerecord")
        cursor.execute("CHECKPOINT")
    return time.perf_counter() - started


def page_times(*, owner, workspace_id, repeat: int = 20) -> tuple[list[float], list[float]]:
    """Return the page's times and the time its usage queries took, in ms."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    client.force_login(owner)
    url = f"/w/{workspace_id}/usage/"
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    times, usage_queries = [], []
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
        usage_queries.append(
            sum(
                float(q["time"]) * 1000
                for q in queries.captured_queries
                if "apikeys_usage" in q["sql"]
            )
        )
    return times, usage_queries


def scanned_partitions(sql: str, params: list) -> tuple[list[str], str]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, params)
        plan = cursor.fetchone()[0][0]
    names: list[str] = []

    def walk(node):
        if "Relation Name" in node:
            names.append(node["Relation Name"])
        for child in node.get("Plans", []):
            walk(child)

    walk(plan["Plan"])
    timing = f"planning {plan['Planning Time']:.2f} ms, execution {plan['Execution Time']:.2f} ms"
    return sorted(set(names)), timing


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=20_000_000)
    parser.add_argument("--workspaces", type=int, default=2_000)
    args = parser.parse_args()

    setup()
    import datetime as dt

    from django.db import connection, transaction
    from django.utils import timezone

    from accounts.models import Membership, Workspace
    from accounts.permissions import Role
    from apikeys.usage.partitions import usage_partitions
    from apikeys.usage.services import usage_rollup_day
    from privacy.retention.services import retention_run
    from tests.factories import UserFactory

    owner = UserFactory()
    Workspace.objects.bulk_create(
        Workspace(name=f"W{n}", usage_retention_days=30 + n % 61) for n in range(args.workspaces)
    )
    workspaces = [str(pk) for pk in Workspace.objects.order_by("name").values_list("pk", flat=True)]
    target = Workspace.objects.get(pk=workspaces[0])
    Membership.objects.create(workspace=target, user=owner, role=Role.OWNER)
    now = timezone.now()

    print(f"loading {args.rows:,} rows over {DAYS} days and {args.workspaces:,} workspaces")
    seconds = load(rows=args.rows, workspaces=workspaces, now=now)
    partitions = usage_partitions()
    print(
        f"load: {seconds:.0f} s ({args.rows / seconds:,.0f} rows/s, INSERT ... SELECT "
        f"generate_series per day); {len(partitions)} day partitions"
    )

    today = now.astimezone(dt.UTC).date()
    for back in range(29, 0, -1):
        usage_rollup_day(day=today - dt.timedelta(days=back), today=today)
    times, queries = page_times(owner=owner, workspace_id=target.pk)
    times.sort()
    print(
        f"30-day usage page, server-side: median {statistics.median(times):.1f} ms, "
        f"p95 {times[int(len(times) * 0.95) - 1]:.1f} ms (target < 50 ms); its usage "
        f"queries: median {statistics.median(queries):.1f} ms"
    )
    start = dt.datetime.combine(today, dt.time.min, tzinfo=dt.UTC)
    names, timing = scanned_partitions(
        "SELECT model, count(*) FROM apikeys_usagerecord WHERE workspace_id = %s "
        "AND occurred_at >= %s AND occurred_at < %s GROUP BY model",
        [target.pk, start, start + dt.timedelta(days=1)],
    )
    print(f"  today's raw records scan {names} ({timing})")
    names, timing = scanned_partitions(
        "SELECT count(*) FROM apikeys_usagerecord WHERE workspace_id = %s "
        "AND occurred_at >= %s AND occurred_at < %s",
        [target.pk, start - dt.timedelta(days=29), start + dt.timedelta(days=1)],
    )
    print(f"  30 days of one workspace's raw records: {len(names)} partitions ({timing})")

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) " + EXPIRED_SQL, [now])
        expired = cursor.fetchone()[0]
    print(f"expired rows: {expired:,}")
    with transaction.atomic(), connection.cursor() as cursor:
        started = time.perf_counter()
        cursor.execute(
            "DELETE FROM apikeys_usagerecord WHERE id IN (SELECT u.id " + EXPIRED_SQL + ")", [now]
        )
        floor = time.perf_counter() - started
        assert cursor.rowcount == expired, cursor.rowcount
        transaction.set_rollback(True)
    print(f"floor: one raw DELETE of the expired rows: {floor:.2f} s (one transaction)")
    with connection.cursor() as cursor:
        # Settle the rolled-back delete's marks, so that the run does not pay for them.
        cursor.execute("VACUUM apikeys_usagerecord")

    from apikeys.usage import partitions as partitions_module

    drop = partitions_module.usage_partitions_drop_before
    drop_seconds = []

    def timed_drop(**kwargs):
        started = time.perf_counter()
        try:
            return drop(**kwargs)
        finally:
            drop_seconds.append(time.perf_counter() - started)

    partitions_module.usage_partitions_drop_before = timed_drop
    before = len(usage_partitions())
    started = time.perf_counter()
    run = retention_run(now=now)
    total = time.perf_counter() - started
    dropped = before - len(usage_partitions())
    assert not run.errors, run.errors
    assert run.counts["api_usage"] == expired, (run.counts, expired)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) " + EXPIRED_SQL, [now])
        assert cursor.fetchone()[0] == 0
    print(
        f"retention run: {total:.2f} s, {dropped} partitions dropped, "
        f"{run.counts['api_usage']:,} rows removed"
    )
    print(f"  of which dropping partitions (with counting their rows): {sum(drop_seconds):.2f} s")
    print(f"ratio to the floor: {total / floor:.3f}x (target <= 0.1x)")
    print(f"longest batch transaction: {run.longest_batch_ms:.1f} ms (target < 100 ms)")


if __name__ == "__main__":
    main()
