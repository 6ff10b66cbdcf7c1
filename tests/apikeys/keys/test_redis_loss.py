"""Revocation survives Redis losing its data.

A private redis-server (no persistence, its own port and directory) serves two verify
processes that hold warm in-process caches. Redis is restarted empty, then a key, its
workspace or its owner's privacy choice changes: the next verify in every process must
see the change, not the record it cached before Redis forgot everything.
"""

import copy
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time

import pytest
import redis
from django.db import connection
from django.test import override_settings

from accounts.services import workspace_delete
from apikeys.keys import verification
from apikeys.keys.services import api_key_revoke
from privacy.data_use.services import privacy_settings_update

pytestmark = [
    pytest.mark.django_db(transaction=True),
    # A private single server restarted empty; the cluster runs the rest of the suite.
    pytest.mark.single_redis,
    pytest.mark.skipif(not shutil.which("redis-server"), reason="needs redis-server"),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PrivateRedis:
    """A redis-server of our own that forgets everything when restarted."""

    def __init__(self, directory):
        self.directory = str(directory)
        self.port = _free_port()
        self.process = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self.directory,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        client.close()

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def restart_empty(self) -> None:
        self.stop()
        self.start()
        assert redis.Redis.from_url(self.url).dbsize() == 0


@pytest.fixture
def private_redis(tmp_path):
    server = PrivateRedis(tmp_path)
    server.start()
    caches = copy.deepcopy(_caches())
    caches["default"]["LOCATION"] = server.url
    try:
        with override_settings(CACHES=caches):
            verification.local_cache_clear()
            assert not verification.store().embedded
            yield server
    finally:
        verification.local_cache_clear()
        server.stop()


def _caches():
    from django.conf import settings

    return settings.CACHES


def _connection_url() -> str:
    params = connection.settings_dict
    user = params.get("USER") or "postgres"
    password = f":{params['PASSWORD']}" if params.get("PASSWORD") else ""
    host = params.get("HOST") or "127.0.0.1"
    port = params.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{params['NAME']}"


class VerifyProcess:
    """Another process verifying one key on demand, with its own in-process cache."""

    def __init__(self, full_key: str, redis_url: str):
        script = textwrap.dedent(
            f"""
            import sys, django
            django.setup()
            from apikeys.keys.verification import verify
            for _line in sys.stdin:
                result = verify({full_key!r})
                flags = result.data_handling or {{}}
                print(result.code, flags.get("training_opt_out"), flush=True)
            """
        )
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "console.settings.test",
            "DATABASE_URL": _connection_url(),
            "REDIS_URL": redis_url,
            # Long enough that only the generation check can end the warm cache.
            "API_KEY_LOCAL_CACHE_SECONDS": "300",
        }
        self.process = subprocess.Popen(
            [sys.executable, "-c", script],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )

    def verify(self) -> tuple[str, str]:
        self.process.stdin.write("go\n")
        self.process.stdin.flush()
        code, opt_out = self.process.stdout.readline().split()
        return code, opt_out

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=30)


@pytest.fixture
def two_processes(private_redis, make_key):
    """Two warm verify processes on a fresh key; yields (api_key, processes)."""
    api_key, full = make_key()
    processes = [VerifyProcess(full, private_redis.url) for _ in range(2)]
    try:
        for process in processes:
            assert process.verify() == ("valid", "False")
            # Warm: answered from the in-process cache plus one generation check.
            assert process.verify() == ("valid", "False")
        yield api_key, processes
    finally:
        for process in processes:
            process.close()


def test_revoke_after_redis_restarted_empty_is_seen_by_every_process(
    private_redis, two_processes, user
):
    api_key, processes = two_processes
    private_redis.restart_empty()
    api_key_revoke(api_key=api_key, actor=user)
    assert [process.verify()[0] for process in processes] == ["revoked", "revoked"]


def test_revoke_after_redis_restarted_and_refilled_by_one_process(
    private_redis, two_processes, user
):
    """One process reloads after the restart and puts the generation back; the other
    still holds its old record; the revocation reaches both."""
    api_key, processes = two_processes
    private_redis.restart_empty()
    assert processes[0].verify()[0] == "valid"
    api_key_revoke(api_key=api_key, actor=user)
    assert [process.verify()[0] for process in processes] == ["revoked", "revoked"]


def test_flushdb_then_revoke_is_seen_by_every_process(private_redis, two_processes, user):
    api_key, processes = two_processes
    redis.Redis.from_url(private_redis.url).flushdb()
    api_key_revoke(api_key=api_key, actor=user)
    assert [process.verify()[0] for process in processes] == ["revoked", "revoked"]


def test_workspace_going_offline_after_redis_restarted_empty(
    private_redis, two_processes, workspace, user
):
    _api_key, processes = two_processes
    private_redis.restart_empty()
    workspace_delete(workspace=workspace, actor=user)
    assert [process.verify()[0] for process in processes] == ["revoked", "revoked"]


def test_owner_training_opt_out_after_redis_restarted_empty(private_redis, two_processes, user):
    _api_key, processes = two_processes
    private_redis.restart_empty()
    privacy_settings_update(user=user, training_opt_out=True)
    assert [process.verify() for process in processes] == [("valid", "True")] * 2


def test_a_lost_generation_alone_costs_one_reload(private_redis, two_processes, user):
    """Only the generation evicted (its TTL ran out): the warm processes reload once,
    put it back from the database, and go on answering from their caches."""
    api_key, processes = two_processes
    client = redis.Redis.from_url(private_redis.url)
    assert client.delete(verification.gen_key(api_key.public_id)) == 1
    assert [process.verify()[0] for process in processes] == ["valid", "valid"]
    api_key.refresh_from_db()
    assert int(client.get(verification.gen_key(api_key.public_id))) == api_key.generation


def test_the_generation_only_goes_up(make_key, user):
    api_key, _full = make_key()
    api_key.refresh_from_db()
    before = api_key.generation
    stale = type(api_key).objects.get(pk=api_key.pk)
    api_key_revoke(api_key=api_key, actor=user)
    api_key.refresh_from_db()
    assert api_key.generation == before + 1
    # A full save of an instance read before the change cannot lower it (PostgreSQL).
    stale.name = "renamed"
    stale.save()
    stale.refresh_from_db()
    assert stale.generation == before + 1
