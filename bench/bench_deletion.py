"""Benchmark: delete an account with 1,000,000 usage records and 10,000 audit events.

Prints, from one run on one database: the floor (one raw `DELETE ... WHERE
workspace_id = ...` of the same rows), the deletion job's total time and ratio to the
floor, its longest batch transaction, and the peak RSS of the process running the job.
A round pairs one floor with one job; the ratio is the median of the rounds (5 by
default), because a single pair on a virtual disk varies by 20% or more.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/console_bench_deletion \\
        .venv/bin/python bench/bench_deletion.py [--rows 1000000] [--others 500000] [--rounds 3]

The database named in DATABASE_URL is dropped and created again: never point it at a
database you want to keep.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings.test")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/console_bench_deletion")


def recreate_database() -> None:
    import psycopg
    from django.conf import settings

    db = settings.DATABASES["default"]
    with psycopg.connect(
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        user=db["USER"],
        password=db["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    ) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db["NAME"]}"')
        conn.execute(f'CREATE DATABASE "{db["NAME"]}"')
        conn.execute(f"ALTER DATABASE \"{db['NAME']}\" SET console.allow_audit_truncate = 'on'")


def setup_django(create: bool) -> None:
    import django

    if create:
        from django.conf import settings

        settings.DATABASES  # noqa: B018  (configure before touching the database)
        recreate_database()
    django.setup()
    if create:
        from django.core.management import call_command

        call_command("migrate", verbosity=0)


def load(workspace_id, other_ids, key_id, rows: int, others: int) -> None:
    """Insert `rows` usage records of the workspace, interleaved with other workspaces'."""
    from django.db import connection

    total = rows + others
    every = max(1, total // max(1, others)) if others else 0
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE apikeys_usagerecord")
        # The load vacuums explicitly; an autovacuum of the last round's deletes running
        # into this one would slow whichever of the floor or the job it met.
        cursor.execute("ALTER TABLE apikeys_usagerecord SET (autovacuum_enabled = false)")
        # One in `every` rows belongs to another workspace, so the account's rows are
        # spread over the whole table as they would be in production.
        cursor.execute(
            """
            INSERT INTO apikeys_usagerecord (workspace_id, api_key_id, request_id,
                occurred_at, model, input_tokens, output_tokens, status, latency_ms,
                moderation, received_at)
            SELECT CASE WHEN %s > 0 AND g %% %s = 0
                        THEN (%s::uuid[])[1 + (g / %s) %% %s] ELSE %s::uuid END,
                   %s, 'r' || g, now() - interval '20 days' + g * interval '1 millisecond',
                   'model-a', 100, 200, 200, 50, 'none', now()
            FROM generate_series(1, %s) g
            """,
            [
                others,
                every or 1,
                [str(o) for o in other_ids],
                every or 1,
                len(other_ids),
                str(workspace_id),
                key_id,
                total,
            ],
        )
        cursor.execute("VACUUM ANALYZE apikeys_usagerecord")
        cursor.execute("CHECKPOINT")


def count_rows(workspace_id) -> int:
    from apikeys.usage.models import UsageRecord

    return UsageRecord.objects.filter(workspace_id=workspace_id).count()


def make_audit_events(user, count: int) -> None:
    from django.utils import timezone

    from accounts.audit import GENESIS_HASH, canonical_content, chain_hash
    from accounts.models import AuditEvent

    last = AuditEvent.objects.order_by("-id").values_list("entry_hash", flat=True).first()
    prev = last or GENESIS_HASH
    start = timezone.now() - timedelta(days=10)
    events = []
    for n in range(count):
        occurred_at = start + timedelta(seconds=n)
        content = canonical_content(
            occurred_at=occurred_at,
            action="account.login",
            actor_id=user.pk,
            workspace_id=None,
            subject_user_id=user.pk,
            target_type="",
            target_id="",
            metadata={},
        )
        entry = chain_hash(prev, content)
        events.append(
            AuditEvent(
                occurred_at=occurred_at,
                action="account.login",
                actor_id=user.pk,
                subject_user_id=user.pk,
                metadata={},
                prev_hash=prev,
                entry_hash=entry,
                actor_email=user.email,
                ip_address="203.0.113.7",
                user_agent="Mozilla/5.0 (bench)",
            )
        )
        prev = entry
    AuditEvent.objects.bulk_create(events, batch_size=2000)
    from django.db import connection

    # What autovacuum's analyze would have done by the time such an account is deleted
    # (this machine's server runs with autovacuum off).
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE accounts_auditevent")


def run_job(deletion_id: int) -> None:
    """Child process: run the deletion job to the end and print what it measured."""
    setup_django(create=False)
    from apikeys.keys.verification import store
    from privacy.deletion.models import DeletionRequest
    from privacy.deletion.services import deletion_run

    # A worker has its key-cache client loaded long before it runs a deletion; in this
    # fresh process the first use would import redis (about 0.3 s) inside a batch.
    store()

    started = time.perf_counter()
    outcome = deletion_run(deletion_id=deletion_id, time_budget=3600)
    elapsed = time.perf_counter() - started
    row = DeletionRequest.objects.get(pk=deletion_id)
    print(
        json.dumps(
            {
                "outcome": outcome,
                "seconds": elapsed,
                "max_batch_ms": row.progress.get("max_batch_ms"),
                "by_step": row.progress.get("max_batch_ms_by_step"),
                "total_by_step": row.progress.get("total_ms_by_step"),
                "batches": row.progress.get("batches"),
                "counts": row.progress.get("counts"),
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--others", type=int, default=500_000)
    parser.add_argument("--audit", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--job", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.job:
        run_job(args.job)
        return

    setup_django(create=True)
    from accounts.services import workspace_create
    from tests.factories import UserFactory

    others = [workspace_create(user=UserFactory(), name=f"Other {n}").pk for n in range(20)]
    print(f"usage rows of the account: {args.rows:,}; other workspaces' rows: {args.others:,}")
    print(f"audit events about the account: {args.audit:,} (kept, personal data erased)")
    print(f"rounds: {args.rounds}, each a floor and a job on fresh loads of the same data")
    rounds = [run_round(n, others, args) for n in range(1, args.rounds + 1)]

    ratios = sorted(r["ratio"] for r in rounds)
    median = ratios[len(ratios) // 2]
    longest = max(r["max_batch_ms"] for r in rounds)
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print()
    print(f"ratio to the floor, median of {len(rounds)}: {median:.2f}x (target <= 1.5x)")
    print(f"ratios: {', '.join(f'{r:.2f}x' for r in ratios)}")
    print(f"longest batch transaction of all rounds: {longest:.1f} ms (target < 100 ms)")
    print(f"peak RSS of a job's process: {peak_mb:.0f} MB (target < 300 MB)")


def run_round(number: int, others: list, args) -> dict:
    """One floor and one job, each on a fresh load, for a new account; return figures."""
    from django.conf import settings
    from django.db import connection
    from django.utils import timezone

    from accounts.services import workspace_create
    from apikeys.keys.models import ApiKey
    from privacy.deletion.models import DeletionRequest
    from privacy.deletion.services import account_deletion_request
    from tests.factories import UserFactory

    user = UserFactory(email=f"bench{number}@example.com")
    workspace = workspace_create(user=user, name=f"Bench {number}")
    key = ApiKey.objects.create(
        workspace=workspace,
        public_id=f"bench{number}",
        name="bench",
        environment="production",
        secret_hash="0" * 64,
        pepper_id="p",
        last_four="0000",
    )
    make_audit_events(user, args.audit)

    # The floor: one raw DELETE of the same rows.
    load(workspace.pk, others, key.pk, args.rows, args.others)
    assert count_rows(workspace.pk) == args.rows
    with connection.cursor() as cursor:
        started = time.perf_counter()
        cursor.execute("DELETE FROM apikeys_usagerecord WHERE workspace_id = %s", [workspace.pk])
        floor = time.perf_counter() - started

    # The job, on a fresh load of the same data, in its own process.
    load(workspace.pk, others, key.pk, args.rows, args.others)
    deletion = account_deletion_request(user=user, send_receipt=False)
    DeletionRequest.objects.filter(pk=deletion.pk).update(
        scheduled_for=timezone.now() - timedelta(seconds=1)
    )
    connection.close()
    env = {**os.environ, "DELETION_BATCH_SIZE": str(settings.DELETION_BATCH_SIZE)}
    out = subprocess.run(
        [sys.executable, __file__, "--job", str(deletion.pk)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result = json.loads(out.strip().splitlines()[-1])
    assert result["outcome"] == "completed", result
    assert count_rows(workspace.pk) == 0
    assert result["counts"]["apikeys.UsageRecord"] == args.rows, result["counts"]
    ratio = result["seconds"] / floor
    print(f"\nround {number}")
    print(f"  floor: one raw DELETE of {args.rows:,} rows: {floor:.2f} s (one transaction)")
    print(f"  deletion job: {result['seconds']:.2f} s total, {result['batches']} batches")
    print(f"  ratio to the floor: {ratio:.2f}x")
    print(f"  longest batch transaction: {result['max_batch_ms']:.1f} ms")
    print(f"  longest batch per step (ms): {json.dumps(result['by_step'], sort_keys=True)}")
    print(f"  time per step (ms): {json.dumps(result['total_by_step'], sort_keys=True)}")
    print(f"  counts: {json.dumps(result['counts'], sort_keys=True)}")
    return {"ratio": ratio, "max_batch_ms": result["max_batch_ms"]}


if __name__ == "__main__":
    main()
