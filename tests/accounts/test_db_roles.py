"""The application's database role cannot shorten or rewrite the audit log."""

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection

from accounts.audit import Action, audit_checkpoint_write, audit_record


def _refused(conn, sql: str, params=(), match: str = ""):
    with pytest.raises(psycopg.Error) as exc:
        conn.execute(sql, params)
    assert match in str(exc.value)
    return exc.value


@pytest.mark.django_db(transaction=True)
def test_the_application_role_may_only_add_to_and_read_the_audit_tables(user, app_role):
    event = audit_record(action=Action.LOGIN, actor=user, ip_address="203.0.113.7")
    audit_checkpoint_write()
    events = "accounts_auditevent"

    # What the application does: read, append, erase personal data.
    assert app_role.execute(f"SELECT count(*) FROM {events}").fetchone()[0] >= 1  # noqa: S608
    app_role.execute(f"UPDATE {events} SET user_agent = '' WHERE id = %s", [event.pk])  # noqa: S608
    app_role.execute("UPDATE accounts_user SET name = name WHERE id = %s", [user.pk])

    for table in (events, "accounts_auditcheckpoint"):
        _refused(app_role, f"UPDATE {table} SET id = id", match="permission denied")  # noqa: S608
        _refused(app_role, f"DELETE FROM {table}", match="permission denied")  # noqa: S608
        _refused(app_role, f"TRUNCATE {table}", match="permission denied")
        _refused(app_role, f"ALTER TABLE {table} DISABLE TRIGGER ALL", match="must be owner")
        _refused(
            app_role,
            f"DROP TRIGGER accounts_auditcheckpoint_guard ON {table}"
            if table != events
            else f"DROP TRIGGER accounts_auditevent_guard ON {table}",
            match="must be owner",
        )
    _refused(app_role, "SET session_replication_role = replica", match="permission denied")
    _refused(app_role, f"UPDATE {events} SET action = 'x'", match="permission denied")  # noqa: S608

    # The escape hatches do not open for it.
    app_role.execute("SET console.allow_audit_truncate = 'on'")
    _refused(app_role, f"TRUNCATE {events}", match="permission denied")
    app_role.execute("SET console.audit_reencrypt = 'on'")
    _refused(
        app_role,
        f"UPDATE {events} SET actor_email = 'enc1:t1:forged' WHERE id = %s",  # noqa: S608
        [event.pk],
        match="append-only",
    )
    # The owner, with the same flag, still can (the suite's flush depends on it).
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('console.allow_audit_truncate', true)")
        assert cursor.fetchone()[0] == "on"


def test_db_roles_prints_its_sql_without_a_password(capsys, monkeypatch):
    monkeypatch.setenv("APP_DATABASE_URL", "postgres://console_app:hunter2-secret@db:5432/console")
    call_command("db_roles", sql=True)
    out = capsys.readouterr().out
    assert 'CREATE ROLE "console_app" LOGIN' in out
    assert 'REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON "accounts_auditevent"' in out
    assert "hunter2-secret" not in out
