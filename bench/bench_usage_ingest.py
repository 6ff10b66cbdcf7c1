"""Usage ingestion throughput on PostgreSQL: events per second in batches of 1,000.

Runs in a database of its own (`console_bench`, created and dropped here) and a Redis
key prefix of its own. Measures, over the same kind of batches:

1. the service, `apikeys.usage.services.usage_records_ingest`, with checked events;
2. the HTTP endpoint `POST /api/v1/usage` through Django's test client (the full
   middleware stack, gateway-token check, JSON parsing and event validation; no network);
3. a replay of already stored batches (all duplicates);
4. the daily rollup of everything ingested.

Every event carries a client IP, so each stored row pays one AES-256-GCM encryption,
except those of a zero-data-retention workspace (a tenth of the keys), whose IP is
dropped. Exits non-zero when the service or the endpoint stays below the target.

    .venv/bin/python bench/bench_usage_ingest.py              # 120 batches of 1,000
    .venv/bin/python bench/bench_usage_ingest.py --batches 10 # a quick look
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.databases import database_urls, recreate_database  # noqa: E402

BENCH_DB = "console_bench_usage"
TARGET_EVENTS_PER_SECOND = 10_000
MODELS = ["large-1", "large-1", "medium-2", "small-1", "embed-1"]


def _setup_django(bench_url: str) -> None:
    os.environ["DATABASE_URL"] = bench_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "console.settings.test"
    os.environ["REDIS_URL"] = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
    os.environ["CACHE_KEY_PREFIX"] = "bench-usage"
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    # As in production (base settings): keep the connection between requests. The test
    # settings reconnect per request, which would be timed as part of every batch.
    settings.DATABASES["default"]["CONN_MAX_AGE"] = 60

    call_command("migrate", verbosity=0)


def _make_keys(n_keys: int):
    from accounts.models import User
    from accounts.services import workspace_create
    from apikeys.keys.services import api_key_create
    from apikeys.keys.tokens import Environment

    owner = User.objects.create_user(email="bench@example.com", password=None)
    plain = workspace_create(user=owner, name="Bench")
    private = workspace_create(user=owner, name="Bench ZDR")
    private.zero_data_retention = True
    private.save(update_fields=["zero_data_retention"])
    keys = []
    for index in range(n_keys):
        workspace = private if index % 10 == 9 else plain
        api_key, _ = api_key_create(
            workspace=workspace,
            actor=owner,
            name=f"bench {index}",
            environment=Environment.DEVELOPMENT,
            scopes=["inference"],
        )
        keys.append(api_key.public_id)
    return keys


def _raw_batches(keys: list[str], *, batches: int, size: int, tag: str, rng) -> list[list]:
    now = dt.datetime.now(dt.UTC)
    # Yesterday and today, as the gateway reports them: older days would queue a rollup.
    window = int((now - now.replace(hour=0, minute=0, second=0, microsecond=0)).total_seconds())
    window += 86_400 - 1
    out = []
    for b in range(batches):
        batch = []
        for i in range(size):
            when = now - dt.timedelta(seconds=rng.randint(0, window))
            batch.append(
                {
                    "request_id": f"{tag}-{b}-{i}-{rng.getrandbits(40):x}",
                    "key_id": rng.choice(keys),
                    "occurred_at": when.isoformat(),
                    "model": rng.choice(MODELS),
                    "input_tokens": rng.randint(1, 8000),
                    "output_tokens": rng.randint(1, 2000),
                    "status": 200 if rng.random() > 0.02 else 429,
                    "latency_ms": rng.randint(40, 9000),
                    "moderation": "none" if rng.random() > 0.01 else "flagged",
                    "client_ip": f"198.51.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
                }
            )
        out.append(batch)
    return out


class _Timer:
    """Wall time and this process's CPU time of each timed block."""

    def __init__(self):
        self.wall: list[float] = []
        self.cpu: list[float] = []

    def __enter__(self):
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall.append(time.perf_counter() - self._wall)
        self.cpu.append(time.process_time() - self._cpu)


def _report(label: str, timer: _Timer, size: int) -> float:
    events = len(timer.wall) * size
    rate = events / sum(timer.wall)
    ms = sorted(d * 1000 for d in timer.wall)
    p95 = ms[min(len(ms) - 1, int(len(ms) * 0.95))]
    print(
        f"{label:<30} {events:>7} ev {sum(timer.wall):6.2f} s {rate:>8,.0f} ev/s  "
        f"batch p50 {statistics.median(ms):5.1f} ms p95 {p95:5.1f} ms  "
        f"app CPU {sum(timer.cpu) * 1000 / len(timer.cpu):5.1f} ms/batch"
    )
    return rate


def run(args) -> int:
    from django.db import connection
    from django.test import Client

    from apikeys.usage.api import UsageBatchInputSerializer
    from apikeys.usage.models import UsageDailyRollup, UsageRecord
    from apikeys.usage.services import usage_records_ingest, usage_rollup_day

    rng = random.Random(20260315)
    keys = _make_keys(args.keys)
    print(
        f"PostgreSQL {connection.pg_version // 10000}, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs (load average {os.getloadavg()[0]:.1f}), "
        f"{args.batches} batches of {args.batch_size} events, "
        f"{args.keys} keys (1 in 10 with zero data retention)"
    )

    # Warm-up: connection, statement paths, keyring.
    for batch in _raw_batches(keys, batches=2, size=args.batch_size, tag="warm", rng=rng):
        parsed = UsageBatchInputSerializer(data={"events": batch})
        parsed.is_valid(raise_exception=True)
        usage_records_ingest(events=parsed.validated_data["events"])

    # 1. The service, with events already checked (the checking is timed separately).
    raw = _raw_batches(keys, batches=args.batches, size=args.batch_size, tag="svc", rng=rng)
    parse_times, service_times, checked = _Timer(), _Timer(), []
    for batch in raw:
        with parse_times:
            parsed = UsageBatchInputSerializer(data={"events": batch})
            parsed.is_valid(raise_exception=True)
        checked.append(parsed.validated_data["events"])
    for events in checked:
        with service_times:
            result = usage_records_ingest(events=events)
        assert result.accepted == len(events), result
    service_rate = _report("service usage_records_ingest", service_times, args.batch_size)
    _report("  event checking alone", parse_times, args.batch_size)

    # 2. The HTTP endpoint.
    client = Client()
    auth = {"HTTP_AUTHORIZATION": "Bearer test-gateway-token"}
    bodies = [
        json.dumps({"events": batch}).encode()
        for batch in _raw_batches(
            keys, batches=args.batches, size=args.batch_size, tag="http", rng=rng
        )
    ]
    http_times = _Timer()
    for body in bodies:
        with http_times:
            response = client.post(
                "/api/v1/usage", data=body, content_type="application/json", **auth
            )
        assert response.status_code == 200, response.content[:500]
        assert response.json()["accepted"] == args.batch_size, response.json()
    http_rate = _report("HTTP POST /api/v1/usage", http_times, args.batch_size)
    print(f"  body size of one batch: {len(bodies[0]) / 1024:.0f} KiB")

    # 3. Replays: every event a duplicate.
    replay_times = _Timer()
    for body in bodies[: max(1, args.batches // 4)]:
        with replay_times:
            response = client.post(
                "/api/v1/usage", data=body, content_type="application/json", **auth
            )
        assert response.json()["duplicates"] == args.batch_size
    _report("HTTP replay (all duplicates)", replay_times, args.batch_size)

    # 4. The daily rollup of everything stored.
    stored = UsageRecord.objects.count()
    days = list(UsageRecord.objects.dates("occurred_at", "day"))
    started = time.perf_counter()
    for day in days:
        usage_rollup_day(day=day)
    elapsed = time.perf_counter() - started
    print(
        f"rollup of {stored} records over {len(days)} days: {elapsed * 1000:.0f} ms, "
        f"{UsageDailyRollup.objects.count()} rollup rows"
    )

    ok = service_rate >= TARGET_EVENTS_PER_SECOND and http_rate >= TARGET_EVENTS_PER_SECOND
    verdict = "meets" if ok else "MISSES"
    print(f"target {TARGET_EVENTS_PER_SECOND:,} events/s in batches of 1,000: {verdict}")
    return 0 if ok or args.batch_size != 1000 else 1


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=120)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--keys", type=int, default=50)
    parser.add_argument("--keep", action="store_true", help="Keep the benchmark database.")
    args = parser.parse_args(argv)

    maintenance_url, bench_url = database_urls(BENCH_DB)
    recreate_database(maintenance_url, BENCH_DB)
    try:
        _setup_django(bench_url)
        return run(args)
    finally:
        if not args.keep:
            from django.db import connections

            connections.close_all()
            recreate_database(maintenance_url, BENCH_DB, drop_only=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
