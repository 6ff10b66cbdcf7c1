"""In-process verify: warm cache with rate limits on, cold cache on PostgreSQL, and
djangorestframework-api-key's is_valid for scale, measured in one run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/console REDIS_URL=redis://127.0.0.1:6379/5 \
        .venv/bin/python bench/bench_verify.py [--keys 1000] [--calls 5000] [--store both]

Uses (and keeps) the test database `test_<name>`; prints medians, p99, the Redis round
trips per warm call and the queries and round trips per cold call, counted on the wire.
Runs on one Redis server, then on a Redis Cluster of three masters that the script
starts from `redis-server` on free ports (and stops by PID), through VERIFY_REDIS_URL.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.verify_settings")


def setup_database():
    import django

    django.setup()
    from django.db import connection

    connection.creation.create_test_db(verbosity=0, keepdb=True, serialize=False)


def make_keys(count: int, *, workspace_budget: bool = False):
    """Create `count` product keys and as many drf-api-key keys; return both key lists.

    With `workspace_budget`, their workspace has a monthly token budget too, so every
    warm verify also runs the workspace budget's script (in the same pipeline).
    """
    from rest_framework_api_key.models import APIKey

    from apikeys.keys.models import ApiKey
    from apikeys.keys.services import api_key_create
    from tests.factories import UserFactory, WorkspaceFactory

    ApiKey.objects.all().delete()
    APIKey.objects.all().delete()
    owner = UserFactory(email=f"bench-{uuid.uuid4().hex[:12]}@example.com")
    workspace = WorkspaceFactory(owner=owner, name="Bench")
    if workspace_budget:
        from accounts.services import workspace_settings_update

        workspace_settings_update(workspace=workspace, actor=owner, monthly_token_budget=10**15)
    ours = []
    for i in range(count):
        _key, full = api_key_create(
            workspace=workspace,
            actor=owner,
            name=f"bench {i}",
            environment="production",
            scopes=["inference"],
            requests_per_minute=10**9,
            tokens_per_minute=10**9,
            monthly_token_budget=10**15,
        )
        ours.append(full)
    theirs = [APIKey.objects.create_key(name=f"bench {i}")[1] for i in range(count)]
    return ours, theirs


def timed(fn, calls: int) -> list[float]:
    samples = []
    for i in range(calls):
        start = time.perf_counter_ns()
        fn(i)
        samples.append((time.perf_counter_ns() - start) / 1000)
    return samples


def summary(name: str, samples: list[float]) -> str:
    samples = sorted(samples)
    p99 = samples[int(len(samples) * 0.99) - 1]
    return (
        f"{name:<46} median {statistics.median(samples):8.1f} µs   "
        f"p99 {p99:8.1f} µs   n={len(samples)}"
    )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--keys", type=int, default=1000)
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument(
        "--store",
        choices=["redis", "cluster", "both"],
        default="both",
        help="verify on one Redis server, on a Redis Cluster of three masters, or both",
    )
    parser.add_argument(
        "--workspace-budget",
        action="store_true",
        help="give the keys' workspace a monthly token budget as well",
    )
    args = parser.parse_args()
    setup_database()
    if args.store in ("redis", "both"):
        run(args, "one Redis server")
    if args.store in ("cluster", "both"):
        import tempfile

        from django.conf import settings

        from tests.redis_cluster import RedisClusterServers

        with tempfile.TemporaryDirectory() as directory:
            servers = RedisClusterServers(Path(directory))
            try:
                servers.start()
                settings.VERIFY_REDIS_URL = servers.url  # verify picks its store again
                run(args, "Redis Cluster, 3 masters")
            finally:
                servers.stop()


def run(args, store: str):
    import redis
    from django.core.cache import cache
    from django.db import connection
    from rest_framework_api_key.models import APIKey

    from apikeys.keys import verification

    cache.clear()
    ours, theirs = make_keys(args.keys, workspace_budget=args.workspace_budget)
    count = len(ours)

    # Warm every key once (in-process cache and Redis record), then measure.
    for full in ours:
        assert verification.verify(full).valid

    sent = [0]
    original = redis.connection.AbstractConnection.send_packed_command

    def counting(self, command, check_health=True):
        sent[0] += 1
        return original(self, command, check_health)

    redis.connection.AbstractConnection.send_packed_command = counting
    warm = timed(
        lambda i: verification.verify(
            ours[i % count],
            required_scope="inference",
            client_ip="203.0.113.9",
            estimated_tokens=100,
        ),
        args.calls,
    )
    warm_round_trips = sent[0] / args.calls
    redis.connection.AbstractConnection.send_packed_command = original

    client = verification.redis_client()

    def cold(i):
        full = ours[i % count]
        public_id = full.split("_")[2]
        verification.local_cache_clear(public_id)
        client.delete(verification.record_key(public_id))
        verification.verify(full, required_scope="inference", estimated_tokens=100)

    # The cache reset inside `cold` is included: one DEL round trip, reported apart.
    reset_only = timed(
        lambda i: client.delete(verification.record_key("none")), min(args.calls, 2000)
    )
    cold_calls = min(args.calls, 2000)
    queries = [0]

    def counting_queries(execute, sql, params, many, context):
        queries[0] += 1
        return execute(sql, params, many, context)

    sent[0] = 0
    redis.connection.AbstractConnection.send_packed_command = counting
    with connection.execute_wrapper(counting_queries):
        cold_samples = timed(cold, cold_calls)
    redis.connection.AbstractConnection.send_packed_command = original
    cold_round_trips = sent[0] / cold_calls - 1  # less the reset's DEL
    cold_queries = queries[0] / cold_calls
    reset_median = statistics.median(reset_only)
    cold_net = [sample - reset_median for sample in cold_samples]

    drf = timed(lambda i: APIKey.objects.is_valid(theirs[i % count]), min(args.calls, 2000))

    print(f"keys: {count} (and {count} drf-api-key keys); calls: {args.calls}; {store}")
    print(summary("verify, warm cache, limits on", warm))
    print(f"{'':<46} Redis round trips per warm call: {warm_round_trips:.2f}")
    print(summary("verify, cold cache (PostgreSQL), net of reset", cold_net))
    print(
        f"{'':<46} per cold call: {cold_queries:.2f} queries, "
        f"{cold_round_trips:.2f} Redis round trips"
    )
    print(summary("djangorestframework-api-key is_valid", drf))
    print(f"ratio is_valid / warm verify: {statistics.median(drf) / statistics.median(warm):.1f}x")


if __name__ == "__main__":
    main()
