"""Benchmark: the retention purge of 5,000,000 usage rows, half of them expired.

Rows are spread over many workspaces with retention periods from 30 to 90 days. Prints,
from one run on one database: the floor (one raw DELETE of exactly the expired rows),
the retention run's total time and ratio to the floor, its longest batch transaction,
and rows per second.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/console_bench_retention \\
        .venv/bin/python bench/bench_retention.py [--rows 5000000] [--workspaces 500]

The database named in DATABASE_URL is dropped and created again.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings.test")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/console_bench_retention")

from bench.bench_deletion import setup_django  # noqa: E402

FLOOR_SQL = """
DELETE FROM apikeys_usagerecord u
USING accounts_workspace w
WHERE u.workspace_id = w.id
  AND u.occurred_at < %s - w.usage_retention_days * interval '1 day'
"""


def load(rows: int, now) -> int:
    """Insert rows round-robin over workspaces; each spans twice its period, so half expire."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE apikeys_usagerecord")
        cursor.execute(
            """
            WITH ws AS (
                SELECT row_number() OVER (ORDER BY id) - 1 AS n, id, usage_retention_days AS d
                FROM accounts_workspace
            ), k AS (SELECT count(*) AS c FROM ws)
            INSERT INTO apikeys_usagerecord (workspace_id, api_key_id, request_id,
                occurred_at, model, input_tokens, output_tokens, status, latency_ms,
                moderation, received_at)
            SELECT ws.id, 1, 'r' || g,
                   %s - (2 * ws.d * interval '1 day') * ((g / k.c) %% 1000 + 0.5) / 1000,
                   'model-a', 100, 200, 200, 50, 'none', now()
            FROM generate_series(0, %s - 1) g, k, ws
            WHERE ws.n = g %% k.c
            -- Ids follow time, as they do when the gateway reports usage as it happens.
            ORDER BY 4
            """,
            [now, rows],
        )
        cursor.execute("VACUUM ANALYZE apikeys_usagerecord")
        cursor.execute("CHECKPOINT")
        cursor.execute(
            "SELECT count(*) FROM apikeys_usagerecord u JOIN accounts_workspace w "
            "ON u.workspace_id = w.id "
            "WHERE u.occurred_at < %s - w.usage_retention_days * interval '1 day'",
            [now],
        )
        return cursor.fetchone()[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--workspaces", type=int, default=500)
    args = parser.parse_args()

    setup_django(create=True)
    from django.conf import settings
    from django.db import connection
    from django.utils import timezone

    from accounts.models import Workspace
    from accounts.services import workspace_create
    from privacy.retention.services import retention_run
    from tests.factories import UserFactory

    owner = UserFactory()
    for n in range(args.workspaces):
        workspace = workspace_create(user=owner, name=f"W{n}")
        Workspace.objects.filter(pk=workspace.pk).update(usage_retention_days=30 + n % 61)
    now = timezone.now()

    expired = load(args.rows, now)
    print(f"usage rows: {args.rows:,} over {args.workspaces} workspaces (30 to 90 days)")
    print(f"expired: {expired:,}")
    with connection.cursor() as cursor:
        started = time.perf_counter()
        cursor.execute(FLOOR_SQL, [now])
        floor = time.perf_counter() - started
        assert cursor.rowcount == expired
    print(f"floor: one raw DELETE of the expired rows: {floor:.2f} s (one transaction)")

    assert load(args.rows, now) == expired
    started = time.perf_counter()
    run = retention_run(now=now)
    total = time.perf_counter() - started
    assert run.counts["api_usage"] == expired, run.counts
    assert not run.errors, run.errors
    print(
        f"retention run: {total:.2f} s total, batches over primary-key ranges from "
        f"{settings.RETENTION_BATCH_SIZE:,} ids, sized to about "
        f"{settings.RETENTION_BATCH_TARGET_MS:.0f} ms each"
    )
    print(f"ratio to the floor: {total / floor:.2f}x (target <= 1.5x)")
    print(f"longest batch transaction: {run.longest_batch_ms:.1f} ms (target < 100 ms)")
    print(f"rows per second: {expired / total:,.0f} (floor: {expired / floor:,.0f})")


if __name__ == "__main__":
    main()
