"""What one worker process does per second for the figures of docs/scaling.md.

Runs in a database of its own (`console_bench_queues`, created and dropped here) and a
Redis key prefix of its own. Measures, one process, one job at a time:

1. the email outbox: writing an email to the outbox (what a web request pays), then
   claiming, sending (Django's in-memory backend, so without the mail server's own
   time) and marking it sent (what an `email` worker pays per message);
2. the job lock every periodic job takes: one try-and-release of the advisory lock;
3. the usage table's footprint: bytes per stored usage row, indexes included, after
   ingesting realistic events (client IP sealed, as the gateway reports them), and the
   daily rollup's time per thousand rows.

    .venv/bin/python bench/bench_queues.py                # 2,000 emails, 100,000 events
    .venv/bin/python bench/bench_queues.py --emails 200   # a quick look

Exits non-zero if an email is not sent exactly once.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_usage_ingest import _make_keys, _raw_batches  # noqa: E402
from bench.databases import database_urls, recreate_database  # noqa: E402

BENCH_DB = "console_bench_queues"


def _setup_django(bench_url: str) -> None:
    os.environ["DATABASE_URL"] = bench_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "console.settings.test"
    os.environ["REDIS_URL"] = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
    os.environ["CACHE_KEY_PREFIX"] = "bench-queues"
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    settings.DATABASES["default"]["CONN_MAX_AGE"] = 60
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    call_command("migrate", verbosity=0)


def _per_op(label: str, seconds: list[float]) -> float:
    median = statistics.median(seconds)
    p99 = sorted(seconds)[int(len(seconds) * 0.99) - 1]
    total = sum(seconds)
    rate = len(seconds) / total
    print(
        f"{label:<44} median {median * 1000:7.2f} ms  p99 {p99 * 1000:7.2f} ms  "
        f"{rate:9,.0f}/s  n={len(seconds)}"
    )
    return rate


def bench_outbox(count: int) -> bool:
    from django.core import mail

    from accounts import jobs
    from accounts.emails import email_enqueue_rendered, outbound_email_send
    from accounts.models import OutboundEmail, OutboundEmailStatus

    # Collect the ids instead of sending them on commit (the test settings run jobs
    # eagerly): the two halves are timed apart, as web and worker pay them apart.
    started: list[int] = []
    jobs.job_start = lambda name, /, **kwargs: started.append(kwargs["email_id"])
    body = "Hello,\n\nUse this link to set a new password:\n" + "x" * 400 + "\n"
    enqueue = []
    for n in range(count):
        t0 = time.perf_counter()
        email_enqueue_rendered(
            to=[f"person{n}@example.com"], subject="Reset your password", body=body
        )
        enqueue.append(time.perf_counter() - t0)
    send = []
    mail.outbox = []
    for email_id in started:
        t0 = time.perf_counter()
        outbound_email_send(email_id=email_id)
        send.append(time.perf_counter() - t0)
    _per_op("outbox: write an email (web request's part)", enqueue)
    _per_op("outbox: claim, send, mark sent (worker)", send)
    sent = OutboundEmail.objects.filter(status=OutboundEmailStatus.SENT).count()
    ok = sent == count and len(mail.outbox) == count
    print(f"  sent {sent} of {count}, delivered {len(mail.outbox)}: {'ok' if ok else 'WRONG'}")
    return ok


def bench_job_lock(count: int) -> None:
    from accounts.jobs import job_lock

    times = []
    for _ in range(count):
        t0 = time.perf_counter()
        with job_lock("bench.lock") as taken:
            assert taken
        times.append(time.perf_counter() - t0)
    _per_op("job lock: take and release (PostgreSQL)", times)


def bench_usage_footprint(batches: int) -> None:
    from django.db import connection

    from apikeys.usage.api import UsageBatchInputSerializer
    from apikeys.usage.models import UsageDailyRollup, UsageRecord
    from apikeys.usage.services import usage_records_ingest, usage_rollup_day

    rng = random.Random(20261126)
    keys = _make_keys(50)
    for batch in _raw_batches(keys, batches=batches, size=1000, tag="size", rng=rng):
        parsed = UsageBatchInputSerializer(data={"events": batch})
        parsed.is_valid(raise_exception=True)
        usage_records_ingest(events=parsed.validated_data["events"])
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE apikeys_usagerecord")
        cursor.execute(
            "SELECT pg_relation_size('apikeys_usagerecord'), "
            "pg_indexes_size('apikeys_usagerecord'), "
            "pg_total_relation_size('apikeys_usagerecord')"
        )
        heap, indexes, total = cursor.fetchone()
    rows = UsageRecord.objects.count()
    print(
        f"usage row footprint over {rows:,} rows: heap {heap / rows:.0f} B, "
        f"indexes {indexes / rows:.0f} B, total {total / rows:.0f} B a row"
    )
    days = list(UsageRecord.objects.dates("occurred_at", "day"))
    t0 = time.perf_counter()
    for day in days:
        usage_rollup_day(day=day)
    elapsed = time.perf_counter() - t0
    print(
        f"rollup of {rows:,} rows over {len(days)} days: {elapsed * 1000:.0f} ms "
        f"({elapsed * 1e6 / rows:.1f} µs a row), {UsageDailyRollup.objects.count()} rollup rows"
    )


def run(args) -> int:
    from django.db import connection

    print(
        f"PostgreSQL {connection.pg_version // 10000}, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs (load average {os.getloadavg()[0]:.1f})"
    )
    ok = bench_outbox(args.emails)
    bench_job_lock(args.locks)
    bench_usage_footprint(args.events // 1000)
    return 0 if ok else 1


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--emails", type=int, default=2000)
    parser.add_argument("--locks", type=int, default=5000)
    parser.add_argument("--events", type=int, default=100_000)
    args = parser.parse_args(argv)

    maintenance_url, bench_url = database_urls(BENCH_DB)
    recreate_database(maintenance_url, BENCH_DB)
    try:
        _setup_django(bench_url)
        return run(args)
    finally:
        from django.db import connections

        connections.close_all()
        recreate_database(maintenance_url, BENCH_DB, drop_only=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
