"""The application role keeps the usage partitions through the owner's functions only."""

import datetime as dt

import psycopg
import pytest
from django.db import connection

from apikeys.usage.partitions import usage_partitions

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="partitions are PostgreSQL's"
)

OLD_DAY = dt.date(2001, 1, 1)


def _names(conn) -> set[str]:
    rows = conn.execute(
        "SELECT partition_tablename FROM partman.show_partitions("
        "current_schema() || '.apikeys_usagerecord')"
    ).fetchall()
    return {name for (name,) in rows}


@pytest.mark.django_db(transaction=True)
def test_the_application_role_creates_partitions_ahead_through_maintenance(app_role):
    newest = usage_partitions()[-3:]
    with connection.cursor() as cursor:
        for partition in newest:
            cursor.execute(f'DROP TABLE "{partition.name}"')
    assert not {p.name for p in newest} & _names(app_role)

    search_path = app_role.execute("SHOW search_path").fetchone()[0]
    app_role.execute("SELECT apikeys_usage_partitions_maintain()")
    # pg_partman leaves the function's search_path on the session; the caller restores it.
    app_role.execute("SELECT set_config('search_path', %s, false)", [search_path])

    assert {p.name for p in newest} <= _names(app_role)
    assert usage_partitions()[-1].end >= newest[-1].end


@pytest.mark.django_db(transaction=True)
def test_the_application_role_drops_an_expired_partition_and_nothing_else(app_role):
    old = f"apikeys_usagerecord_p{OLD_DAY:%Y_%m_%d}"
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT partman.create_partition_time(current_schema() || '.apikeys_usagerecord', "
            "ARRAY[%s::timestamptz])",
            [dt.datetime.combine(OLD_DAY, dt.time.min, tzinfo=dt.UTC)],
        )
    assert old in _names(app_role)

    # Not even a partition of its own table, directly.
    with pytest.raises(psycopg.Error, match="must be owner"):
        app_role.execute(f'DROP TABLE "{old}"')

    app_role.execute("SELECT apikeys_usage_partition_drop(%s, 50)", [old])
    assert old not in _names(app_role)

    # The function refuses any other table, and the default partition.
    for table in ("accounts_auditevent", "apikeys_usagerecord", "apikeys_usagerecord_default"):
        with pytest.raises(psycopg.Error, match="not a day partition"):
            app_role.execute("SELECT apikeys_usage_partition_drop(%s, 50)", [table])
        with pytest.raises(psycopg.Error, match="must be owner"):
            app_role.execute(f'DROP TABLE "{table}"')
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('accounts_auditevent') IS NOT NULL")
        assert cursor.fetchone()[0]


@pytest.mark.django_db
def test_only_the_granted_role_may_call_the_functions():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT p.proname, p.prosecdef, p.proconfig, "
            "has_function_privilege('public', p.oid, 'EXECUTE') "
            "FROM pg_proc p WHERE p.proname LIKE 'apikeys_usage_partition%%' ORDER BY 1"
        )
        rows = cursor.fetchall()
    assert [r[0] for r in rows] == [
        "apikeys_usage_partition_drop",
        "apikeys_usage_partitions_maintain",
    ]
    for _, definer, config, public in rows:
        assert definer
        assert config == ["search_path=pg_catalog, partman"]
        assert not public
