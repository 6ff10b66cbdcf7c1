"""Shared fixtures. Tests run against the real PostgreSQL and Redis of the test settings."""

import secrets

import psycopg
import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
from django.db.models.signals import post_migrate

from tests.factories import UserFactory, WorkspaceFactory


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Let the test runner flush the test database between transactional tests.

    The audit table refuses TRUNCATE unless the database is configured to allow it;
    only this throwaway database is.
    """
    with django_db_blocker.unblock():
        if connection.vendor == "postgresql":
            name = connection.ops.quote_name(connection.settings_dict["NAME"])
            with connection.cursor() as cursor:
                cursor.execute(f"ALTER DATABASE {name} SET console.allow_audit_truncate = 'on'")
            connection.close()


def _seed_staff_roles_again(sender, using, **kwargs):
    """A transactional test's flush empties the groups that migrations seeded (the
    staff roles); the flush ends with post_migrate, so they are seeded again here, for
    the next test, as the migrations seed them."""
    if sender.label == "support":
        from tests.support import staff_roles_seed

        staff_roles_seed(using)


post_migrate.connect(_seed_staff_roles_again, dispatch_uid="tests-staff-roles")


@pytest.fixture(autouse=True)
def _clean_cache():
    """Start every test with an empty cache (the Redis DB/prefix of the test settings)."""
    cache.clear()
    yield


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def workspace(user):
    return WorkspaceFactory(owner=user)


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory):
    """A Redis Cluster of three masters (Debian's redis-server) for this test session."""
    from tests.redis_cluster import RedisClusterServers

    servers = RedisClusterServers(tmp_path_factory.mktemp("redis-cluster"))
    try:
        servers.start()
        yield servers
    finally:
        servers.stop()


@pytest.fixture
def app_role(monkeypatch):
    """A connection as the application's database role, made by `manage.py db_roles` with a
    throwaway name and password; the role is dropped afterwards (roles belong to the whole
    server, which other test databases may share)."""
    role = f"console_app_test_{secrets.token_hex(4)}"
    password = secrets.token_urlsafe(16)
    settings_dict = connection.settings_dict
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or 5432
    name = settings_dict["NAME"]
    monkeypatch.setenv("APP_DATABASE_URL", f"postgres://{role}:{password}@{host}:{port}/{name}")
    call_command("db_roles")
    conn = psycopg.connect(
        host=host, port=port, dbname=name, user=role, password=password, autocommit=True
    )
    try:
        yield conn
    finally:
        conn.close()
        with connection.cursor() as cursor:
            cursor.execute(f"DROP OWNED BY {role}")
            cursor.execute(f"DROP ROLE {role}")
