"""Clients and steps the tests share."""

import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager

from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, generate_totp_secret, hotp_value
from django.test import Client


def with_totp(user) -> str:
    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    return secret


def totp_code(secret: str) -> str:
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30))


def admin_client_with_mfa(user) -> Client:
    """A client signed in as `user` with TOTP set up and MFA completed in the session."""
    with_totp(user)
    client = Client()
    client.force_login(user)
    session = client.session
    now = time.time()
    session["account_authentication_methods"] = [
        {"method": "password", "at": now, "email": user.email},
        {"method": "mfa", "at": now, "type": "totp"},
    ]
    session["account_authentication_methods_user"] = str(user.pk)
    session.save()
    return client


def staff_role(name: str):
    """The staff role's group with the permissions its migration grants; seeded again
    when a transactional test's flush emptied the table (permissions come back on
    their own after a flush, groups do not)."""
    import pkgutil
    from importlib import import_module

    from django.contrib.auth.models import Group, Permission

    import privacy.migrations

    # Found by their names' ends, so renumbering a migration changes nothing here; each
    # grants its ROLES in turn.
    granted = []
    for module in pkgutil.iter_modules(privacy.migrations.__path__):
        if module.name.endswith("_staff_roles"):
            roles = import_module(f"privacy.migrations.{module.name}").ROLES
            granted.extend(roles.get(name, []))
    group, created = Group.objects.get_or_create(name=name)
    if created:
        group.permissions.add(
            *(
                Permission.objects.get(
                    content_type__app_label=app_label, content_type__model=model, codename=code
                )
                for app_label, model, code in granted
            )
        )
    return group


_MIGRATED_STATE: dict = {}


def staff_roles_seed(using: str = "default") -> None:
    """Run the data migrations that seed the staff roles again (they are idempotent):
    privacy's roles, then the permissions later apps grant to them."""
    import pkgutil
    from importlib import import_module
    from types import SimpleNamespace

    from django.db import connections
    from django.db.migrations.loader import MigrationLoader

    import privacy.migrations
    import support.migrations

    # The migrations run against the historical models, as `migrate` runs them (they
    # adjust the app registry they are given, which must not be the live one).
    if "apps" not in _MIGRATED_STATE:
        loader = MigrationLoader(connections[using], ignore_no_migrations=True)
        _MIGRATED_STATE["apps"] = loader.project_state().apps
    apps = _MIGRATED_STATE["apps"]
    editor = SimpleNamespace(connection=connections[using])
    for package, suffix, function in (
        (privacy.migrations, "_staff_roles", "seed_roles"),
        (support.migrations, "_support_group_permissions", "grant"),
        (privacy.migrations, "_processor_permissions", "grant"),
    ):
        # Found by their names' ends, so renumbering a migration changes nothing here.
        for module in pkgutil.iter_modules(package.__path__):
            if module.name.endswith(suffix):
                getattr(import_module(f"{package.__name__}.{module.name}"), function)(apps, editor)


def staff_member(*roles: str, **fields):
    """A staff account in `roles`, created through the factory."""
    from tests.factories import UserFactory

    member = UserFactory(is_staff=True, **fields)
    member.groups.add(*(staff_role(role) for role in roles))
    return member


def api_client_signed_in(user, *, reauthenticated_seconds_ago: float | None = 0):
    """A REST client with a session; its password was confirmed again (allauth's
    re-authentication) `reauthenticated_seconds_ago`, or never when None."""
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_login(user)
    session = client.session
    now = time.time()
    records = [{"method": "password", "at": now - 7200, "email": user.email}]
    if reauthenticated_seconds_ago is not None:
        at = now - reauthenticated_seconds_ago
        records.append({"method": "password", "at": at, "reauthenticated": True})
    session["account_authentication_methods"] = records
    session["account_authentication_methods_user"] = str(user.pk)
    session.save()
    return client


def redis_test_db_url(env_var: str, default: int) -> str:
    """The test Redis server with a database of its own, which the caller may flush;
    `env_var` picks another number when `default` is taken on a machine."""
    from urllib.parse import urlsplit, urlunsplit

    from django.conf import settings

    db = int(os.environ.get(env_var, str(default)))
    return urlunsplit(urlsplit(settings.REDIS_URL)._replace(path=f"/{db}"))


def worker_database_url() -> str:
    """The URL of the database this test runs against, for processes it starts."""
    from django.db import connection

    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class ChildProcesses:
    """Processes a test started, each stopped by its PID (SIGKILL: a crash, not a
    shutdown)."""

    procs: list[subprocess.Popen]

    def kill(self, proc: subprocess.Popen) -> None:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)

    def stop_all(self) -> None:
        for proc in self.procs:
            self.kill(proc)


class CeleryWorkers(ChildProcesses):
    """Real `celery -A console worker` processes on the test database and a broker of
    their own, each logging to `tmp_path` and stopped by its PID."""

    def __init__(self, tmp_path, *, broker_url: str, name: str, env: dict | None = None):
        self.tmp_path = tmp_path
        self.broker_url = broker_url
        self.name = name
        self.env = env or {}
        self.procs: list[subprocess.Popen] = []

    def start(self, *, queues: str | None = None, **env_overrides) -> subprocess.Popen:
        """Start a worker on the comma-separated `queues`, or on every queue if None."""
        from django.conf import settings

        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "console.settings.local",
            "DEBUG": "False",
            "DATABASE_URL": worker_database_url(),
            "CONN_MAX_AGE": "0",
            "REDIS_URL": self.broker_url,
            "CELERY_BROKER_URL": self.broker_url,
            "ENCRYPTION_KEYS": settings.ENCRYPTION_KEYS,
            "SECRET_KEY": settings.SECRET_KEY,
            **self.env,
            **{k: str(v) for k, v in env_overrides.items()},
        }
        log = open(self.tmp_path / f"worker{len(self.procs)}.log", "w")  # noqa: SIM115
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "console",
                "worker",
                "--pool=solo",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                f"--hostname={self.name}-{len(self.procs)}@%h",
                "--loglevel=INFO",
                *([f"--queues={queues}"] if queues else []),
            ],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.procs.append(proc)
        return proc


HOLD_LOCK = """
import time
from accounts.jobs import job_lock
with job_lock({name!r}) as taken:
    print("taken" if taken else "busy", flush=True)
    time.sleep(600)
"""


class LockHolder(ChildProcesses):
    """Processes holding a job lock (`accounts.jobs.job_lock`) until killed by their PID,
    as a worker running that job would; `env` points them at the database."""

    def __init__(self, tmp_path, env: dict):
        self.tmp_path = tmp_path
        self.env = {**os.environ, **env}
        self.procs: list[subprocess.Popen] = []

    def start(self, name: str) -> subprocess.Popen:
        from django.conf import settings

        out = self.tmp_path / f"holder{len(self.procs)}.out"
        with out.open("w") as stdout:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "manage.py",
                    "shell",
                    "--no-imports",
                    "-c",
                    HOLD_LOCK.format(name=name),
                ],
                cwd=settings.BASE_DIR,
                env=self.env,
                stdout=stdout,
                stderr=subprocess.STDOUT,
            )
        self.procs.append(proc)

        def said():
            assert proc.poll() is None, out.read_text()
            return {"taken", "busy"} & set(out.read_text().split())

        assert wait_for(said, 60, "the holder to try the lock") == {"taken"}
        return proc


def broker_send(broker_url: str, name: str, **kwargs) -> None:
    """Put a task message on the broker at `broker_url`, as a service's job would."""
    from console.celery import app

    with app.connection_for_write(broker_url) as conn:
        app.send_task(name, kwargs=kwargs, connection=conn)


@contextmanager
def jobs_published_to(monkeypatch, broker_url: str):
    """Publish the jobs services start on commit to the broker at `broker_url`, routed by
    their task as `.delay()` routes them in production, instead of running them eagerly."""
    from accounts import jobs
    from console.celery import app

    monkeypatch.setitem(app.conf, "task_always_eager", False)
    with app.connection_for_write(broker_url) as conn:

        def publish(name: str, /, **kwargs) -> None:
            jobs.job_task(name).apply_async(kwargs=kwargs, connection=conn)

        monkeypatch.setattr(jobs, "job_start", publish)
        yield


def wait_for(predicate, timeout: float, what: str):
    """Poll `predicate` until it returns something true; fail the test after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")
