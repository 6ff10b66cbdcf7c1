"""verify(): every answer code, the limits in Redis, caching and invalidation."""

import json
import subprocess
import sys
import textwrap
import threading
import time
from datetime import timedelta

import pytest
import redis
import time_machine
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from accounts.permissions import Role
from accounts.services import workspace_settings_update
from apikeys.keys import tokens as keys
from apikeys.keys import verification
from apikeys.keys.models import ApiKey
from apikeys.keys.services import (
    api_key_cache_invalidate_for_user,
    api_key_last_used_flush,
    api_key_revoke,
    api_key_rotate,
    api_key_update,
)
from apikeys.keys.verification import verify
from privacy.data_use.models import PrivacySettings
from tests.factories import add_member

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_valid_key_answers_workspace_scopes_limits_and_flags(make_key, workspace):
    api_key, full = make_key(scopes=["inference"], requests_per_minute=10, tokens_per_minute=1000)
    result = verify(full, required_scope="inference", estimated_tokens=100)
    assert result.valid and result.code == "valid"
    assert result.key_id == api_key.public_id
    assert result.workspace_id == str(workspace.pk)
    assert result.environment == "development"
    assert result.scopes == ["inference"]
    assert result.limits["requests_per_minute"] == 10
    assert result.remaining["requests"] == 9
    assert result.remaining["tokens"] == 900
    assert result.data_handling == {"zero_data_retention": False, "training_opt_out": False}


def test_malformed_and_bad_checksum_are_refused_before_any_io(make_key, django_assert_num_queries):
    _api_key, full = make_key()
    verification._state["store"] = None  # any store use would pick one again; none may
    with django_assert_num_queries(0):
        assert verify("not a key").code == "malformed"
        assert verify(full[:-1] + ("A" if full[-1] != "A" else "B")).code == "malformed"
    assert verification._state["store"] is None


def test_unknown_public_id_and_wrong_secret_both_answer_unknown(make_key):
    api_key, _full = make_key()
    stranger = keys.assemble(
        environment="development", public_id=keys.new_public_id(), secret=keys.new_secret()
    )
    wrong_secret = keys.assemble(
        environment="development", public_id=api_key.public_id, secret=keys.new_secret()
    )
    assert verify(stranger).code == "unknown"
    assert verify(wrong_secret).code == "unknown"


def test_revoked_key_fails_on_the_very_next_call(make_key, user):
    api_key, full = make_key()
    assert verify(full).valid
    api_key_revoke(api_key=api_key, actor=user)
    assert verify(full).code == "revoked"


def test_expired_key_answers_expired(make_key):
    _api_key, full = make_key(expires_at=timezone.now() + timedelta(days=2))
    assert verify(full).valid
    with time_machine.travel(timezone.now() + timedelta(days=3)):
        assert verify(full).code == "expired"


def test_ipv4_allowlist(make_key):
    _api_key, full = make_key(allowed_ips=["203.0.113.0/24"])
    assert verify(full, client_ip="203.0.113.77").valid
    assert verify(full, client_ip="198.51.100.1").code == "ip_not_allowed"
    assert verify(full).code == "ip_not_allowed"
    assert verify(full, client_ip="not-an-ip").code == "ip_not_allowed"


def test_ipv6_allowlist_and_ipv4_mapped_addresses(make_key):
    _api_key, full = make_key(allowed_ips=["2001:db8::/32", "192.0.2.0/24"])
    assert verify(full, client_ip="2001:db8:1::5").valid
    assert verify(full, client_ip="2001:db9::1").code == "ip_not_allowed"
    assert verify(full, client_ip="::ffff:192.0.2.9").valid


def test_missing_scope(make_key):
    _api_key, full = make_key(scopes=["models.read"])
    assert verify(full, required_scope="inference").code == "scope_missing"
    assert verify(full, required_scope="models.read").valid


def test_max_tokens_per_request(make_key):
    _api_key, full = make_key(max_tokens_per_request=512)
    assert verify(full, max_tokens=512).valid
    assert verify(full, max_tokens=513).code == "max_tokens_exceeded"


def test_requests_per_minute_with_retry_after(make_key):
    _api_key, full = make_key(requests_per_minute=2)
    with time_machine.travel("2030-01-01 00:00:10Z", tick=False):
        assert verify(full).valid
        assert verify(full).valid
        result = verify(full)
    assert result.code == "rate_limited"
    assert result.retry_after == 50


def test_tokens_per_minute(make_key):
    _api_key, full = make_key(tokens_per_minute=1000)
    with time_machine.travel("2030-01-01 00:00:10Z", tick=False):
        assert verify(full, estimated_tokens=600).valid
        assert verify(full, estimated_tokens=600).code == "rate_limited"
        assert verify(full, estimated_tokens=400).valid
    with time_machine.travel("2030-01-01 00:01:01Z", tick=False):
        assert verify(full, estimated_tokens=600).valid


def test_monthly_budget(make_key):
    _api_key, full = make_key(monthly_token_budget=1000)
    with time_machine.travel("2030-01-15 00:00:00Z", tick=False):
        assert verify(full, estimated_tokens=900).remaining["budget_tokens"] == 100
        assert verify(full, estimated_tokens=200).code == "budget_exhausted"
    with time_machine.travel("2030-02-01 00:00:00Z", tick=False):
        assert verify(full, estimated_tokens=200).valid


def test_concurrent_verifies_let_exactly_the_limit_pass(make_key):
    _api_key, full = make_key(requests_per_minute=25)
    now = time.time()
    if now % 60 > 50:  # stay inside one rate window
        time.sleep(61 - now % 60)
    assert verify(full, estimated_tokens=0).valid  # warm the caches; counts as one
    results = []
    barrier = threading.Barrier(16)

    def worker():
        barrier.wait()
        for _ in range(5):
            results.append(verify(full).code)
        connection.close()

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 80
    assert results.count("valid") == 24
    assert results.count("rate_limited") == 56


def test_rotation_grace_keeps_the_old_secret_until_it_ends(make_key, user):
    api_key, old = make_key()
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        api_key, new = api_key_rotate(api_key=api_key, actor=user, grace="1h")
        assert verify(new).valid
        result = verify(old)
        assert result.valid and result.previous_secret
        traveller.shift(timedelta(minutes=59))
        assert verify(old).valid
        traveller.shift(timedelta(minutes=2))
        assert verify(old).code == "expired"
        assert verify(new).valid


def test_rotation_without_grace_stops_the_old_secret_at_once(make_key, user):
    api_key, old = make_key()
    assert verify(old).valid
    api_key, new = api_key_rotate(api_key=api_key, actor=user, grace="none")
    assert verify(old).code == "unknown"
    assert verify(new).valid


def test_revocation_is_seen_at_once_by_another_process(make_key, user, settings):
    """A second process holds its own warm in-process cache; revoke; it refuses next."""
    api_key, full = make_key()
    script = textwrap.dedent(
        f"""
        import os, sys, django
        os.environ["DJANGO_SETTINGS_MODULE"] = "console.settings.test"
        os.environ["DATABASE_URL"] = {connection_url()!r}
        os.environ["VERIFY_REDIS_URL"] = {settings.VERIFY_REDIS_URL!r}
        django.setup()
        from apikeys.keys.verification import verify
        print(verify({full!r}).code, flush=True)
        sys.stdin.readline()
        print(verify({full!r}).code, flush=True)
        """
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout.readline().strip() == "valid"
        api_key_revoke(api_key=api_key, actor=user)
        child.stdin.write("go\n")
        child.stdin.flush()
        assert child.stdout.readline().strip() == "revoked"
    finally:
        child.stdin.close()
        child.wait(timeout=30)


def connection_url() -> str:
    params = connection.settings_dict
    user = params.get("USER") or "postgres"
    password = f":{params['PASSWORD']}" if params.get("PASSWORD") else ""
    host = params.get("HOST") or "127.0.0.1"
    port = params.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{params['NAME']}"


def test_scope_change_reaches_a_warm_cache_at_once(make_key, user):
    api_key, full = make_key(scopes=["models.read"])
    assert verify(full, required_scope="inference").code == "scope_missing"
    api_key_update(api_key=api_key, actor=user, scopes=["models.read", "inference"])
    assert verify(full, required_scope="inference").valid


def test_workspace_settings_change_reaches_verify_at_once(make_key, workspace, user):
    _api_key, full = make_key()
    assert verify(full).data_handling["zero_data_retention"] is False
    workspace_settings_update(workspace=workspace, actor=user, zero_data_retention=True)
    assert verify(full).data_handling["zero_data_retention"] is True


def test_owner_training_opt_out_reaches_verify_after_invalidation(make_key, workspace, user):
    _api_key, full = make_key()
    developer = add_member(workspace, Role.DEVELOPER).user
    PrivacySettings.objects.create(user=developer, training_opt_out=True)
    assert verify(full).data_handling["training_opt_out"] is False  # not an owner
    PrivacySettings.objects.create(user=user, training_opt_out=True)
    api_key_cache_invalidate_for_user(user.pk)
    assert verify(full).data_handling["training_opt_out"] is True


def test_deleted_workspace_keys_stop_verifying(make_key, workspace, user):
    from accounts.services import workspace_delete

    _api_key, full = make_key()
    assert verify(full).valid
    workspace_delete(workspace=workspace, actor=user)
    assert verify(full).code == "revoked"


def _sent_while(monkeypatch, action) -> list:
    sent = []
    original = redis.connection.AbstractConnection.send_packed_command

    def counting(self, command, check_health=True):
        sent.append(b"".join(_as_list(command)))
        return original(self, command, check_health)

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counting)
    action()
    monkeypatch.undo()
    return sent


def test_a_warm_call_makes_no_redis_round_trip_and_no_query(
    make_key, django_assert_num_queries, monkeypatch
):
    """The generation copy is tracked and the leases cover the calls; only this
    process's last-used entries are handed on, at most once a second."""
    # Leases of 1,000 requests and 10,000 tokens cover every call below.
    _api_key, full = make_key(requests_per_minute=10**5, tokens_per_minute=10**6)
    assert verify(full).valid
    assert verify(full).valid

    def calls():
        with django_assert_num_queries(0):
            for _ in range(10):
                assert verify(full, estimated_tokens=5).valid

    sent = _sent_while(monkeypatch, calls)
    assert len(sent) <= 1
    assert all(b"EVALSHA" not in command and b"HSET" in command for command in sent)


def test_without_tracking_a_warm_call_makes_one_round_trip(
    make_key, django_assert_num_queries, monkeypatch, settings
):
    settings.API_KEY_TRACKING = False
    _api_key, full = make_key(requests_per_minute=1000, tokens_per_minute=10**6)
    assert verify(full).valid

    def calls():
        with django_assert_num_queries(0):
            for _ in range(10):
                assert verify(full, estimated_tokens=5).valid

    sent = _sent_while(monkeypatch, calls)
    assert len(sent) == 10
    assert all(b"EVALSHA" in command for command in sent)


def _as_list(command):
    return command if isinstance(command, list | tuple) else [command]


def test_last_used_is_buffered_and_flushed_in_one_batch(make_key, user):
    api_key, full = make_key()
    _other, other_full = make_key(name="Other")
    assert verify(full, client_ip="203.0.113.5").valid
    assert verify(other_full, client_ip="2001:db8::1").valid
    assert ApiKey.objects.get(pk=api_key.pk).last_used_at is None  # no write per call
    assert api_key_last_used_flush() == 2
    api_key.refresh_from_db()
    assert api_key.last_used_at is not None
    assert api_key.last_used_ip == "203.0.113.5"
    assert api_key_last_used_flush() == 0


def test_previous_secret_use_is_recorded_for_the_rotation_panel(make_key, user):
    api_key, old = make_key()
    api_key, _new = api_key_rotate(api_key=api_key, actor=user, grace="24h")
    assert verify(old).valid
    api_key_last_used_flush()
    api_key.refresh_from_db()
    assert api_key.previous_secret_last_used_at is not None


def test_zero_data_retention_keeps_the_ip_out_of_last_used(make_key, workspace, user):
    workspace_settings_update(workspace=workspace, actor=user, zero_data_retention=True)
    api_key, full = make_key()
    assert verify(full, client_ip="203.0.113.5").valid
    api_key_last_used_flush()
    api_key.refresh_from_db()
    assert api_key.last_used_at is not None
    assert api_key.last_used_ip is None


def test_a_verify_right_after_an_ownership_transfer_uses_the_new_owners_opt_out(
    make_key, workspace, user
):
    from accounts.services import workspace_transfer_ownership

    _api_key, full = make_key()
    newcomer = add_member(workspace, Role.ADMIN).user
    PrivacySettings.objects.create(user=newcomer, training_opt_out=True)
    assert verify(full).data_handling["training_opt_out"] is False  # warm, old owner only
    workspace_transfer_ownership(
        workspace=workspace, actor=user, new_owner=newcomer, keep_actor_as=Role.ADMIN
    )
    assert verify(full).data_handling["training_opt_out"] is True


def test_an_owner_demoted_or_removed_no_longer_sets_the_opt_out(make_key, workspace, user):
    from accounts.services import membership_change_role, membership_remove

    _api_key, full = make_key()
    second = add_member(workspace, Role.OWNER)
    PrivacySettings.objects.create(user=second.user, training_opt_out=True)
    api_key_cache_invalidate_for_user(second.user_id)
    assert verify(full).data_handling["training_opt_out"] is True
    membership_change_role(workspace=workspace, actor=user, membership=second, role=Role.ADMIN)
    assert verify(full).data_handling["training_opt_out"] is False
    membership_change_role(workspace=workspace, actor=user, membership=second, role=Role.OWNER)
    assert verify(full).data_handling["training_opt_out"] is True
    membership_remove(workspace=workspace, actor=user, membership=second)
    assert verify(full).data_handling["training_opt_out"] is False


LOCMEM = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


@pytest.fixture
def embedded():
    """Verify against a local-memory cache, as `make run` without REDIS_URL does."""
    from django.test import override_settings

    with override_settings(CACHES=LOCMEM):
        assert verification.store().embedded
        yield
    verification.local_cache_clear()


@pytest.mark.single_redis
def test_embedded_mode_verifies_and_enforces_limits_without_redis(embedded, make_key, user):
    api_key, full = make_key(requests_per_minute=2, tokens_per_minute=1000)
    with time_machine.travel("2030-01-01 00:00:10Z", tick=False):
        first = verify(full, estimated_tokens=600, client_ip="203.0.113.5")
        assert first.valid and first.remaining == {
            "requests": 1,
            "tokens": 400,
            "budget_tokens": None,
            "window_reset_seconds": 50,
        }
        assert verify(full, estimated_tokens=600).code == "rate_limited"
        assert verify(full, estimated_tokens=400).valid
        result = verify(full)
        assert result.code == "rate_limited" and result.retry_after == 50
    with time_machine.travel("2030-01-01 00:01:01Z", tick=False):
        assert verify(full).valid
    api_key_revoke(api_key=api_key, actor=user)
    assert verify(full).code == "revoked"


@pytest.mark.single_redis
def test_embedded_mode_buffers_last_used_and_flushes_it(embedded, make_key):
    api_key, full = make_key()
    assert verify(full, client_ip="203.0.113.5").valid
    assert ApiKey.objects.get(pk=api_key.pk).last_used_at is None
    assert api_key_last_used_flush() == 1
    api_key.refresh_from_db()
    assert api_key.last_used_ip == "203.0.113.5"


@pytest.mark.single_redis
def test_embedded_mode_rotation_and_scope_changes_reach_a_warm_cache(embedded, make_key, user):
    api_key, old = make_key(scopes=["models.read"])
    assert verify(old, required_scope="inference").code == "scope_missing"
    api_key_update(api_key=api_key, actor=user, scopes=["models.read", "inference"])
    assert verify(old, required_scope="inference").valid
    api_key, new = api_key_rotate(api_key=api_key, actor=user, grace="none")
    assert verify(old).code == "unknown"
    assert verify(new).valid


@pytest.mark.single_redis
def test_embedded_mode_lets_exactly_the_limit_pass_across_threads(embedded, make_key):
    _api_key, full = make_key(requests_per_minute=25)
    now = time.time()
    if now % 60 > 50:  # stay inside one rate window
        time.sleep(61 - now % 60)
    assert verify(full).valid
    results = []
    barrier = threading.Barrier(8)

    def worker():
        barrier.wait()
        for _ in range(10):
            results.append(verify(full).code)
        connection.close()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count("valid") == 24
    assert results.count("rate_limited") == 56


def test_the_sql_function_and_the_orm_read_the_same_record(make_key, workspace, user):
    """The PostgreSQL lookup and the embedded one must never drift apart."""
    api_key, _full = make_key(
        expires_at=timezone.now() + timedelta(days=3),
        allowed_ips=["203.0.113.0/24", "2001:db8::/32"],
        max_tokens_per_request=512,
        requests_per_minute=7,
        tokens_per_minute=7000,
        monthly_token_budget=10**12,
    )
    api_key, _new = api_key_rotate(api_key=api_key, actor=user, grace="24h")
    workspace_settings_update(
        workspace=workspace, actor=user, zero_data_retention=True, monthly_token_budget=5000
    )
    PrivacySettings.objects.create(user=user, training_opt_out=True)

    def fields(record):
        return {
            name: getattr(record, name)
            for name in verification._STORED
            if name not in ("previous_expires", "expires")
        }

    from_sql = verification._load_from_db(api_key.public_id)
    from_orm = verification._load_with_orm(api_key.public_id)
    assert fields(from_sql) == fields(from_orm)
    assert from_sql.expires == pytest.approx(from_orm.expires)
    assert from_sql.previous_expires == pytest.approx(from_orm.previous_expires)
    assert from_sql.training_opt_out and from_sql.zero_data_retention
    assert from_sql.previous_digest and from_sql.rpm == 7
    assert from_sql.workspace_budget == 5000
    api_key_revoke(api_key=api_key, actor=user)
    assert verification._load_from_db(api_key.public_id).revoked
    assert verification._load_with_orm(api_key.public_id).revoked


# ---------------------------------------------------------------------------- sharding


def _store_keys() -> list[str]:
    client = verification.store().client
    return [name.decode() for name in client.scan_iter(match=f"{verification.key_prefix()}*")]


def test_every_redis_key_of_one_verify_is_in_the_slot_of_its_api_key(make_key, user):
    from redis.crc import key_slot

    api_key, old = make_key(
        requests_per_minute=10, tokens_per_minute=10_000, monthly_token_budget=10_000
    )
    api_key_rotate(api_key=api_key, actor=user, grace="1h")
    api_key.refresh_from_db()
    # The old secret in its grace period also writes the previous-secret buffer.
    assert verify(old, estimated_tokens=10, client_ip="203.0.113.5").valid
    names = _store_keys()
    tag = verification.shard_tag(api_key.public_id)
    assert names and all(tag in name for name in names)
    assert {key_slot(name.encode()) for name in names} == {key_slot(tag[1:-1].encode())}
    kinds = {name.split(f"{tag}:", 1)[1].split(":")[0] for name in names}
    assert {"generation", "record", "win", "bud", "lu", "lup"} <= kinds


def test_last_used_is_buffered_in_shards_and_the_flush_drains_every_one(make_key):
    created = [make_key(name=f"key {i}") for i in range(24)]
    for _api_key, full in created:
        assert verify(full, client_ip="203.0.113.5").valid
    buffers = {name for name in _store_keys() if name.endswith(":lu")}
    expected = {verification.shard_of(api_key.public_id) for api_key, _full in created}
    assert len(expected) > 1
    assert len(buffers) == len(expected)
    assert api_key_last_used_flush() == len(created)
    assert not [name for name in _store_keys() if name.endswith(":lu")]
    assert ApiKey.objects.filter(last_used_at__isnull=True).count() == 0


def test_budget_used_reads_the_key_s_own_counter(make_key):
    api_key, full = make_key(monthly_token_budget=1000)
    assert verify(full, estimated_tokens=300).valid
    assert verification.budget_used(public_id=api_key.public_id, key_id=api_key.pk) == 300


def test_verify_store_follows_verify_redis_url(settings, verify_store):
    from redis.cluster import RedisCluster

    client = verification.store().client
    assert isinstance(client, RedisCluster) == (verify_store == "cluster")
    settings.VERIFY_REDIS_URL = redis_url = settings.REDIS_URL
    assert verification.store().client.connection_pool.connection_kwargs["port"] == int(
        redis_url.rsplit(":", 1)[1].split("/")[0]
    )


def _slot_owner(client, slot: int) -> int:
    for start, end, owner, *_replicas in client.execute_command("CLUSTER", "SLOTS"):
        if start <= slot <= end:
            return int(owner[1])
    raise AssertionError(f"no node serves slot {slot}")


def _reshard(servers, slot: int, *, pause: float) -> int:
    """Move `slot` to another master key by key, as `redis-cli --cluster reshard` does;
    return the port of the node that serves it now."""
    nodes = {port: redis.Redis(port=port, decode_responses=True) for port in servers.ports}
    ids = {port: client.execute_command("CLUSTER", "MYID") for port, client in nodes.items()}
    source = _slot_owner(nodes[servers.ports[0]], slot)
    target = next(port for port in servers.ports if port != source)
    nodes[target].execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", ids[source])
    nodes[source].execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", ids[target])
    while names := nodes[source].execute_command("CLUSTER", "GETKEYSINSLOT", slot, 1):
        nodes[source].execute_command("MIGRATE", "127.0.0.1", target, "", 0, 5000, "KEYS", *names)
        time.sleep(pause)
    for client in nodes.values():
        client.execute_command("CLUSTER", "SETSLOT", slot, "NODE", ids[target])
        client.close()
    return target


@pytest.mark.single_redis
def test_a_resharded_slot_loses_no_verify_and_admits_exactly_the_limit(make_key, redis_cluster):
    """The key's slot moves to another master key by key while four threads verify;
    redis-py follows the ASK and MOVED redirects (and retries TRYAGAIN while the
    script's keys sit on two nodes)."""
    from redis.crc import key_slot

    api_key, full = make_key(requests_per_minute=120)
    with (
        override_settings(VERIFY_REDIS_URL=redis_cluster.url),
        time_machine.travel("2030-01-01 00:00:05Z", tick=False),
    ):
        verification.local_cache_clear()
        assert verify(full).valid  # warm; counts as one
        tag = verification.shard_tag(api_key.public_id)
        slot = key_slot(tag[1:-1].encode())
        before = _slot_owner(redis.Redis(port=redis_cluster.ports[0]), slot)
        codes: list[str] = []
        errors: list[BaseException] = []
        moving = threading.Event()
        moving.set()

        def worker():
            try:
                while moving.is_set() or len(codes) < 200:
                    codes.append(verify(full).code)
            except BaseException as exc:
                errors.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=worker) for _ in range(4)]
        for thread in threads:
            thread.start()
        time.sleep(0.2)
        started = len(codes)
        after = _reshard(redis_cluster, slot, pause=0.05)
        during = len(codes) - started
        moving.clear()
        for thread in threads:
            thread.join()
    assert not errors
    assert during > 0  # verifies ran while the keys were split between two nodes
    assert after != before
    assert _slot_owner(redis.Redis(port=redis_cluster.ports[0]), slot) == after
    assert set(codes) == {"valid", "rate_limited"}
    assert codes.count("valid") == 120 - 1


def _compact(value) -> str:
    return json.dumps(value, separators=(",", ":"))


def test_the_prepared_answer_json_equals_the_serialised_answer(make_key, user):
    _api_key, limited = make_key(
        requests_per_minute=5,
        tokens_per_minute=1000,
        monthly_token_budget=10_000,
        max_tokens_per_request=64,
        allowed_ips=["203.0.113.0/24"],
    )
    _api_key, unlimited = make_key(name="unlimited", scopes=["inference"])
    with time_machine.travel("2030-01-01 00:00:10Z", tick=False):
        for full in (limited, unlimited, limited):
            result = verify(full, client_ip="203.0.113.5", estimated_tokens=10)
            assert result.valid
            assert result.as_json() == _compact(result.as_dict())
            assert json.loads(result.as_json()) == result.as_dict()
        for _ in range(5):
            verify(limited, client_ip="203.0.113.5")
        refused = verify(limited, client_ip="203.0.113.5")
    assert refused.code == "rate_limited"
    assert refused.as_json() == _compact(refused.as_dict())
    unknown = verify(limited[:-8] + "A" * 8)
    assert unknown.as_json() == _compact(unknown.as_dict())


def test_scripts_forgotten_by_redis_are_loaded_again(make_key, user):
    api_key, full = make_key(requests_per_minute=10)
    assert verify(full, client_ip="203.0.113.5").valid
    client = verification.store().client
    client.script_flush()
    assert verify(full, client_ip="203.0.113.5").remaining["requests"] == 8
    client.script_flush()
    assert api_key_last_used_flush() == 1
    client.script_flush()
    api_key_revoke(api_key=api_key, actor=user)
    assert verify(full).code == "revoked"


# ---------------------------------------------------------------------------- workspace budget


def test_a_used_workspace_budget_refuses_every_key_of_the_workspace(make_key, workspace, user):
    workspace_settings_update(workspace=workspace, actor=user, monthly_token_budget=1000)
    _first, first = make_key()
    _second, second = make_key(monthly_token_budget=10**6)
    with time_machine.travel("2030-01-15 00:00:00Z", tick=False):
        assert verify(first, estimated_tokens=600).valid
        assert verify(second, estimated_tokens=300).remaining["budget_tokens"] == 10**6 - 300
        assert verify(second, estimated_tokens=200).code == "budget_exhausted"
        assert verify(first, estimated_tokens=100).valid
        assert verify(first, estimated_tokens=0).code == "budget_exhausted"
        assert verify(second).code == "budget_exhausted"
        assert verification.workspace_budget_used(workspace_id=workspace.pk) == 1000
    with time_machine.travel("2030-02-01 00:00:00Z", tick=False):
        assert verify(second, estimated_tokens=1000).valid


def test_a_request_one_budget_refuses_is_counted_by_neither(make_key, workspace, user):
    workspace_settings_update(workspace=workspace, actor=user, monthly_token_budget=1000)
    api_key, full = make_key(
        requests_per_minute=10, tokens_per_minute=10**6, monthly_token_budget=500
    )
    with time_machine.travel("2030-01-15 00:00:10Z", tick=False):
        assert verify(full, estimated_tokens=400).valid
        # The key's budget refuses: the workspace does not count it.
        assert verify(full, estimated_tokens=200).code == "budget_exhausted"
        assert verification.workspace_budget_used(workspace_id=workspace.pk) == 400
        api_key_update(api_key=api_key, actor=user, monthly_token_budget=10**6)
        assert verify(full, estimated_tokens=500).valid
        # The workspace refuses: the key's window and budget do not count it.
        assert verify(full, estimated_tokens=200).code == "budget_exhausted"
        assert verification.budget_used(public_id=api_key.public_id, key_id=api_key.pk) == 900
        result = verify(full, estimated_tokens=100)
        assert result.valid and result.remaining["requests"] == 7
        assert result.remaining["tokens"] == 10**6 - 1000


def test_a_workspace_budget_change_reaches_the_next_verify(make_key, workspace, user):
    """Like a key's budget, the workspace's counts from when it is set."""
    _api_key, full = make_key()
    with time_machine.travel("2030-01-15 00:00:00Z", tick=False):
        assert verify(full, estimated_tokens=700).valid
        workspace_settings_update(workspace=workspace, actor=user, monthly_token_budget=500)
        assert verify(full, estimated_tokens=400).valid
        assert verify(full, estimated_tokens=200).code == "budget_exhausted"
        workspace_settings_update(workspace=workspace, actor=user, monthly_token_budget=1000)
        assert verify(full, estimated_tokens=200).valid
        workspace_settings_update(workspace=workspace, actor=user, monthly_token_budget=None)
        assert verify(full, estimated_tokens=10**9).valid


def test_concurrent_verifies_let_exactly_the_workspace_budget_pass(make_key, workspace, user):
    workspace_settings_update(workspace=workspace, actor=user, monthly_token_budget=2400)
    fulls = [make_key()[1] for _ in range(4)]
    for full in fulls:
        assert verify(full, estimated_tokens=0).valid  # warm the caches
    results = []
    barrier = threading.Barrier(12)

    def worker(full):
        barrier.wait()
        for _ in range(10):
            results.append(verify(full, estimated_tokens=100).code)
        connection.close()

    threads = [threading.Thread(target=worker, args=(fulls[i % 4],)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count("valid") == 24
    assert results.count("budget_exhausted") == 96
    assert verification.workspace_budget_used(workspace_id=workspace.pk) == 2400


def test_the_workspace_counter_has_the_workspace_s_own_hash_tag(workspace):
    name = verification.workspace_budget_key(workspace.pk)
    assert f"{{w{workspace.pk}}}" in name and name.index("{") < name.index(":wbud:")


@pytest.mark.single_redis
def test_embedded_mode_enforces_the_workspace_budget(embedded, make_key, workspace, user):
    workspace_settings_update(workspace=workspace, actor=user, monthly_token_budget=1000)
    api_key, full = make_key(monthly_token_budget=10**6, tokens_per_minute=10**6)
    with time_machine.travel("2030-01-15 00:00:10Z", tick=False):
        assert verify(full, estimated_tokens=900).valid
        assert verify(full, estimated_tokens=200).code == "budget_exhausted"
        assert verification.budget_used(public_id=api_key.public_id, key_id=api_key.pk) == 900
        assert verify(full, estimated_tokens=100).remaining["tokens"] == 10**6 - 1000
        assert verify(full).code == "budget_exhausted"
