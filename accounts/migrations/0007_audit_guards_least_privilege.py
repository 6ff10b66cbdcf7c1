"""Guard the keyed chain and its checkpoints; escape hatches for the owner role only.

Until now any session could switch the guards' escape hatches on with a plain `SET`
(`console.allow_audit_truncate`, `console.audit_reencrypt`). Now a flag counts only in a
session whose role is a member of the role that owns the table (the owner runs the
migrations, `reencrypt` and the test suite's flush); the application role may set
the flag but is refused all the same. The application role cannot disable or drop the
triggers either: only a table's owner can (see `manage.py db_roles`).

The chain key id is protected like the hash. The actor's email is now encrypted: like
the IP address it may be erased (to NULL) by anyone allowed to update it, and re-sealed
under a new key only by the owner with `console.audit_reencrypt` on. Existing emails are
encrypted here, empty ones become NULL.

Checkpoints (accounts_auditcheckpoint) refuse every update and delete, and truncation
like the audit table.
"""

from django.db import migrations

PG_FORWARD = r"""
CREATE OR REPLACE FUNCTION console_audit_escape(flag text, tbl oid) RETURNS boolean AS $$
    SELECT coalesce(current_setting(flag, true), '') = 'on'
       AND pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = tbl), 'MEMBER')
$$ LANGUAGE sql STABLE;

CREATE OR REPLACE FUNCTION accounts_auditevent_guard() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'audit events are append-only: delete refused' USING ERRCODE = 'P0001';
    END IF;
    IF NEW.id IS DISTINCT FROM OLD.id
       OR NEW.occurred_at IS DISTINCT FROM OLD.occurred_at
       OR NEW.action IS DISTINCT FROM OLD.action
       OR NEW.actor_id IS DISTINCT FROM OLD.actor_id
       OR NEW.workspace_id IS DISTINCT FROM OLD.workspace_id
       OR NEW.subject_user_id IS DISTINCT FROM OLD.subject_user_id
       OR NEW.target_type IS DISTINCT FROM OLD.target_type
       OR NEW.target_id IS DISTINCT FROM OLD.target_id
       OR NEW.metadata::text IS DISTINCT FROM OLD.metadata::text
       OR NEW.prev_hash IS DISTINCT FROM OLD.prev_hash
       OR NEW.entry_hash IS DISTINCT FROM OLD.entry_hash
       OR NEW.chain_key_id IS DISTINCT FROM OLD.chain_key_id
       OR (NEW.user_agent IS DISTINCT FROM OLD.user_agent AND NEW.user_agent <> '')
       OR (NEW.actor_email IS DISTINCT FROM OLD.actor_email AND NEW.actor_email IS NOT NULL
           AND NOT console_audit_escape('console.audit_reencrypt', TG_RELID))
       OR (NEW.ip_address IS DISTINCT FROM OLD.ip_address AND NEW.ip_address IS NOT NULL
           AND NOT console_audit_escape('console.audit_reencrypt', TG_RELID))
    THEN
        RAISE EXCEPTION 'audit events are append-only: only personal data may be erased'
            USING ERRCODE = 'P0001';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION accounts_auditevent_no_truncate() RETURNS trigger AS $$
BEGIN
    -- Only a throwaway test database is configured with this setting (ALTER DATABASE),
    -- so that the test runner, connected as the owner, can flush it between tests.
    IF console_audit_escape('console.allow_audit_truncate', TG_RELID) THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION '% is append-only: truncate refused', TG_TABLE_NAME
        USING ERRCODE = 'P0001';
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION accounts_auditcheckpoint_guard() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit checkpoints are append-only: % refused', lower(TG_OP)
        USING ERRCODE = 'P0001';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER accounts_auditcheckpoint_guard
    BEFORE UPDATE OR DELETE ON accounts_auditcheckpoint
    FOR EACH ROW EXECUTE FUNCTION accounts_auditcheckpoint_guard();
CREATE TRIGGER accounts_auditcheckpoint_no_truncate
    BEFORE TRUNCATE ON accounts_auditcheckpoint
    FOR EACH STATEMENT EXECUTE FUNCTION accounts_auditevent_no_truncate();
"""

PG_REVERSE = r"""
CREATE OR REPLACE FUNCTION accounts_auditevent_guard() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'audit events are append-only: delete refused' USING ERRCODE = 'P0001';
    END IF;
    IF NEW.id IS DISTINCT FROM OLD.id
       OR NEW.occurred_at IS DISTINCT FROM OLD.occurred_at
       OR NEW.action IS DISTINCT FROM OLD.action
       OR NEW.actor_id IS DISTINCT FROM OLD.actor_id
       OR NEW.workspace_id IS DISTINCT FROM OLD.workspace_id
       OR NEW.subject_user_id IS DISTINCT FROM OLD.subject_user_id
       OR NEW.target_type IS DISTINCT FROM OLD.target_type
       OR NEW.target_id IS DISTINCT FROM OLD.target_id
       OR NEW.metadata::text IS DISTINCT FROM OLD.metadata::text
       OR NEW.prev_hash IS DISTINCT FROM OLD.prev_hash
       OR NEW.entry_hash IS DISTINCT FROM OLD.entry_hash
       OR (NEW.user_agent IS DISTINCT FROM OLD.user_agent AND NEW.user_agent <> '')
       OR (NEW.ip_address IS DISTINCT FROM OLD.ip_address AND NEW.ip_address IS NOT NULL
           AND NOT console_audit_escape('console.audit_reencrypt', TG_RELID))
    THEN
        RAISE EXCEPTION 'audit events are append-only: only personal data may be erased'
            USING ERRCODE = 'P0001';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS accounts_auditcheckpoint_guard ON accounts_auditcheckpoint;
DROP TRIGGER IF EXISTS accounts_auditcheckpoint_no_truncate ON accounts_auditcheckpoint;
DROP FUNCTION IF EXISTS accounts_auditcheckpoint_guard();
"""

SQLITE_FORWARD = [
    "DROP TRIGGER IF EXISTS accounts_auditevent_no_update;",
    """
    CREATE TRIGGER accounts_auditevent_no_update BEFORE UPDATE ON accounts_auditevent
    WHEN NEW.id IS NOT OLD.id
      OR NEW.occurred_at IS NOT OLD.occurred_at
      OR NEW.action IS NOT OLD.action
      OR NEW.actor_id IS NOT OLD.actor_id
      OR NEW.workspace_id IS NOT OLD.workspace_id
      OR NEW.subject_user_id IS NOT OLD.subject_user_id
      OR NEW.target_type IS NOT OLD.target_type
      OR NEW.target_id IS NOT OLD.target_id
      OR NEW.metadata IS NOT OLD.metadata
      OR NEW.prev_hash IS NOT OLD.prev_hash
      OR NEW.entry_hash IS NOT OLD.entry_hash
      OR NEW.chain_key_id IS NOT OLD.chain_key_id
      OR (NEW.user_agent IS NOT OLD.user_agent AND NEW.user_agent <> '')
    BEGIN SELECT RAISE(ABORT, 'audit events are append-only: only personal data may be erased'); END;
    """,
    """
    CREATE TRIGGER accounts_auditcheckpoint_no_update BEFORE UPDATE ON accounts_auditcheckpoint
    BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only: update refused'); END;
    """,
    """
    CREATE TRIGGER accounts_auditcheckpoint_no_delete BEFORE DELETE ON accounts_auditcheckpoint
    BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only: delete refused'); END;
    """,
]

SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS accounts_auditcheckpoint_no_update;",
    "DROP TRIGGER IF EXISTS accounts_auditcheckpoint_no_delete;",
]


def _encrypt_actor_emails(apps, schema_editor):
    connection = schema_editor.connection
    field = apps.get_model("accounts", "AuditEvent")._meta.get_field("actor_email")
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT set_config('console.audit_reencrypt', 'on', true)")
        cursor.execute(
            "UPDATE accounts_auditevent SET actor_email = NULL WHERE actor_email = ''"
        )
        last_id = 0
        while True:
            cursor.execute(
                "SELECT id, actor_email FROM accounts_auditevent WHERE id > %s "
                "AND actor_email IS NOT NULL AND actor_email NOT LIKE 'enc1:%%' "
                "ORDER BY id LIMIT 1000",
                [last_id],
            )
            rows = cursor.fetchall()
            if not rows:
                break
            for row_id, email in rows:
                cursor.execute(
                    "UPDATE accounts_auditevent SET actor_email = %s WHERE id = %s",
                    [field.encrypt_value(email), row_id],
                )
            last_id = rows[-1][0]
        if connection.vendor == "postgresql":
            cursor.execute("SELECT set_config('console.audit_reencrypt', '', true)")


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_FORWARD, params=None)
    elif schema_editor.connection.vendor == "sqlite":
        for statement in SQLITE_FORWARD:
            schema_editor.execute(statement)
    _encrypt_actor_emails(apps, schema_editor)


def reverse(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_REVERSE, params=None)
    elif schema_editor.connection.vendor == "sqlite":
        for statement in SQLITE_REVERSE:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0006_audit_keyed_chain_and_checkpoints")]

    operations = [migrations.RunPython(forward, reverse)]
