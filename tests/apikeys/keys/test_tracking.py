"""Generation copies kept by Redis's invalidation pushes, and quota leases, across real
processes.

Other processes verify on the same Redis (the test server, or the cluster) with warm
in-process caches: a change made here must be refused by their very next verify, a
killed tracking connection or an emptied Redis must never let a revoked key pass, and
the leased rate window must never admit more than the limit.
"""

import os
import subprocess
import sys
import textwrap
import time

import pytest
import redis
from django.conf import settings
from django.db import connection

from accounts.services import workspace_delete
from apikeys.keys import verification
from apikeys.keys.services import api_key_revoke, api_key_update

pytestmark = pytest.mark.django_db(transaction=True)


def _database_url() -> str:
    params = connection.settings_dict
    user = params.get("USER") or "postgres"
    password = f":{params['PASSWORD']}" if params.get("PASSWORD") else ""
    host = params.get("HOST") or "127.0.0.1"
    port = params.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{params['NAME']}"


class VerifyProcess:
    """Another process verifying one key on demand: "go N" verifies N times and prints
    the count of valid answers, the last code, the windows of the first and last call and
    whether the last answer came from the tracked copy."""

    def __init__(self, full_key: str):
        script = textwrap.dedent(
            f"""
            import sys, time, django
            django.setup()
            from apikeys.keys import verification
            from apikeys.keys.tokens import parse
            public_id = parse({full_key!r}).public_id
            for line in sys.stdin:
                count = int(line.split()[1])
                first = int(time.time()) // 60
                valid = 0
                for _ in range(count):
                    result = verification.verify({full_key!r}, estimated_tokens=100)
                    valid += result.valid
                last = int(time.time()) // 60
                tracker = verification.store().tracker
                tracked = tracker.get(verification.gen_key(public_id)) is not None
                print(valid, result.code, first, last, tracked, flush=True)
            """
        )
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "console.settings.test",
            "DATABASE_URL": _database_url(),
            "REDIS_URL": settings.CACHES["default"]["LOCATION"],
            "VERIFY_REDIS_URL": settings.VERIFY_REDIS_URL,
            "CACHE_KEY_PREFIX": settings.CACHES["default"].get("KEY_PREFIX", ""),
            # Long enough that only the generation can end the warm cache.
            "API_KEY_LOCAL_CACHE_SECONDS": "300",
        }
        self.process = subprocess.Popen(
            [sys.executable, "-c", script],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )

    def send(self, count: int = 1) -> None:
        self.process.stdin.write(f"go {count}\n")
        self.process.stdin.flush()

    def read(self) -> tuple[int, str, int, int, bool]:
        valid, code, first, last, tracked = self.process.stdout.readline().split()
        return int(valid), code, int(first), int(last), tracked == "True"

    def verify(self) -> tuple[str, bool]:
        self.send()
        _valid, code, _first, _last, tracked = self.read()
        return code, tracked

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=30)


@pytest.fixture
def processes(request):
    started = []

    def start(full_key: str, count: int = 1) -> list[VerifyProcess]:
        batch = [VerifyProcess(full_key) for _ in range(count)]
        started.extend(batch)
        return batch

    yield start
    for process in started:
        process.close()


def _warm(process: VerifyProcess) -> None:
    assert process.verify()[0] == "valid"
    # The second call trusts the tracked generation: no round trip.
    assert process.verify() == ("valid", True)


def _redis_clients() -> list:
    """A plain client for every server verify uses (one, or each cluster master)."""
    url = settings.VERIFY_REDIS_URL
    if not url:
        return [redis.Redis.from_url(settings.CACHES["default"]["LOCATION"])]
    cluster = verification.redis_client_for(url)
    return [
        redis.Redis(host=node.host, port=node.port)
        for node in cluster.get_primaries()  # every master
    ]


def test_a_revocation_here_is_refused_by_the_very_next_verify_in_another_process(
    make_key, user, processes
):
    api_key, full = make_key(requests_per_minute=1000, tokens_per_minute=10**6)
    [other] = processes(full)
    _warm(other)
    api_key_revoke(api_key=api_key, actor=user)
    assert other.verify()[0] == "revoked"


def test_a_workspace_going_offline_is_refused_by_the_very_next_verify(
    make_key, workspace, user, processes
):
    _api_key, full = make_key()
    [other] = processes(full)
    _warm(other)
    workspace_delete(workspace=workspace, actor=user)
    assert other.verify()[0] == "revoked"


def test_a_limit_change_is_seen_by_the_very_next_verify(make_key, user, processes):
    api_key, full = make_key(requests_per_minute=1000)
    [other] = processes(full)
    _warm(other)
    api_key_update(api_key=api_key, actor=user, requests_per_minute=1)
    # The lease taken under the old limit is dropped with the old record: the leased
    # units still count in the window, so the new limit of 1 is already used up.
    other.send(3)
    valid, code, *_ = other.read()
    assert (valid, code) == (0, "rate_limited")


def test_killed_tracking_connections_fall_back_to_the_round_trip(make_key, user, processes):
    api_key, full = make_key()
    [other] = processes(full)
    _warm(other)
    killed = 0
    for client in _redis_clients():
        for entry in client.client_list():
            if "t" in entry["flags"]:
                killed += client.client_kill_filter(_id=entry["id"])
    assert killed >= 1
    # Still answered correctly, from the round trip, and tracked again afterwards.
    assert other.verify()[0] == "valid"
    assert other.verify() == ("valid", True)
    for client in _redis_clients():
        for entry in client.client_list():
            if "t" in entry["flags"]:
                client.client_kill_filter(_id=entry["id"])
    api_key_revoke(api_key=api_key, actor=user)
    assert other.verify()[0] == "revoked"


def test_an_emptied_redis_still_refuses_a_revoked_key(make_key, user, processes):
    api_key, full = make_key()
    [other] = processes(full)
    _warm(other)
    api_key_revoke(api_key=api_key, actor=user)
    for client in _redis_clients():
        client.flushdb()
    assert other.verify()[0] == "revoked"
    assert verification.verify(full).code == "revoked"


def test_emptied_redis_then_revocation_is_refused_everywhere(make_key, user, processes):
    api_key, full = make_key()
    [other] = processes(full)
    _warm(other)
    for client in _redis_clients():
        client.flushdb()
    assert other.verify()[0] == "valid"
    api_key_revoke(api_key=api_key, actor=user)
    assert other.verify()[0] == "revoked"


def _run_together(batch: list[VerifyProcess], count: int) -> list[tuple]:
    for process in batch:
        process.send(count)
    return [process.read() for process in batch]


def _in_one_window(batch, count):
    """Run the processes at once within one rate window (waiting out a boundary)."""
    for _attempt in range(3):
        if time.time() % 60 > 45:
            time.sleep(60 - time.time() % 60 + 0.2)
        results = _run_together(batch, count)
        if len({(first, last) for _v, _c, first, last, _t in results}) == 1 and (
            results[0][2] == results[0][3]
        ):
            return results
    pytest.fail("could not stay within one rate window")


def test_leased_requests_per_minute_never_admit_more_than_the_limit(make_key, processes):
    """Three processes, 300 requests/min: each leases 3 at a time. All together admit at
    most 300 in the window, and refuse early at most what the others hold unused."""
    limit, count = 300, 3
    lease = verification.lease_size(limit, settings.API_KEY_LEASE_DIVISOR)
    assert lease == 3
    _api_key, full = make_key(requests_per_minute=limit)
    batch = processes(full, count)
    results = _in_one_window(batch, 200)
    admitted = sum(valid for valid, *_ in results)
    assert limit - (count - 1) * lease <= admitted <= limit
    assert "rate_limited" in {code for _v, code, *_ in results}


def test_leased_tokens_per_minute_never_admit_more_than_the_limit(make_key, processes):
    """30,000 tokens/min at 100 a call: a lease is 300 tokens. Never more than 300 calls;
    early refusals at most what the other processes hold (lease plus one call each)."""
    limit, count, estimate = 30_000, 3, 100
    lease = verification.lease_size(limit, settings.API_KEY_LEASE_DIVISOR)
    _api_key, full = make_key(tokens_per_minute=limit)
    batch = processes(full, count)
    results = _in_one_window(batch, 200)
    admitted_tokens = sum(valid for valid, *_ in results) * estimate
    assert limit - (count - 1) * (lease + estimate) <= admitted_tokens <= limit


def test_small_limits_take_no_lease_and_are_exact(make_key, processes):
    _api_key, full = make_key(requests_per_minute=50)
    assert verification.lease_size(50, settings.API_KEY_LEASE_DIVISOR) == 0
    batch = processes(full, 3)
    results = _in_one_window(batch, 30)
    assert sum(valid for valid, *_ in results) == 50


def test_a_budget_lease_never_passes_the_budget(make_key, processes):
    """A budget lease is 1/10,000 of the budget: never more than the budget, and early
    refusals at most what the other processes hold (lease plus one call each)."""
    budget, count, estimate = 2_000_000, 3, 100
    lease = verification.lease_size(budget, 10_000)
    assert lease == 200
    _api_key, full = make_key(monthly_token_budget=budget)
    batch = processes(full, count)
    results = _run_together(batch, 7_000)
    admitted_tokens = sum(valid for valid, *_ in results) * estimate
    assert budget - (count - 1) * (lease + estimate) <= admitted_tokens <= budget
    assert "budget_exhausted" in {code for _v, code, *_ in results}


def test_a_backlog_of_invalidations_empties_every_copy(make_key):
    """A poll that reads BACKLOG_PUSHES pushes or more trusts nothing it holds."""
    from apikeys.keys.tracking import BACKLOG_PUSHES

    _api_key, full = make_key()
    assert verification.verify(full).valid
    tracker = verification.store().tracker
    names = [f"{verification.key_prefix()}{{s{i % 256}}}:backlog:{i}" for i in range(1200)]
    for name in names:
        tracker.track(name)
    assert len(tracker.gens) >= 1200
    resets = tracker.resets
    client = verification.store().client
    pipe = client.pipeline(transaction=False)
    for name in names:
        pipe.set(name, "1", ex=60)
    pipe.execute()
    verification.store().barrier()
    tracker.poll()
    assert BACKLOG_PUSHES <= 1200
    assert tracker.resets == resets + 1
    assert tracker.gens == {}
    # Verify carries on: the round trip, then tracked again.
    assert verification.verify(full).valid
    assert verification.verify(full).valid


def test_unused_leases_are_given_back_at_exit(make_key):
    api_key, full = make_key(monthly_token_budget=10**7)
    assert verification.verify(full, estimated_tokens=100).valid
    used = verification.budget_used(public_id=api_key.public_id, key_id=api_key.pk)
    assert used == 100 + verification.lease_size(10**7, 10_000)
    verification.leases_return()
    assert verification.budget_used(public_id=api_key.public_id, key_id=api_key.pk) == 100
