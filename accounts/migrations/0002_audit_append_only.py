"""Make the audit table append-only in the database itself.

Deletes and truncation are refused (truncation only where the database itself is
configured with `console.allow_audit_truncate` = 'on', which the test suite does for its
throwaway database). Updates are refused unless they only erase the
personal fields kept outside the hash (actor_email, user_agent to '', ip_address to
NULL), or re-encrypt ip_address during key rotation (the transaction sets
`console.audit_reencrypt` = 'on').
"""

from django.db import migrations

PG_FORWARD = r"""
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
       OR (NEW.actor_email IS DISTINCT FROM OLD.actor_email AND NEW.actor_email <> '')
       OR (NEW.user_agent IS DISTINCT FROM OLD.user_agent AND NEW.user_agent <> '')
       OR (NEW.ip_address IS DISTINCT FROM OLD.ip_address AND NEW.ip_address IS NOT NULL
           AND coalesce(current_setting('console.audit_reencrypt', true), '') <> 'on')
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
    -- so that the test runner can flush it between tests.
    IF coalesce(current_setting('console.allow_audit_truncate', true), '') = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'audit events are append-only: truncate refused' USING ERRCODE = 'P0001';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER accounts_auditevent_guard
    BEFORE UPDATE OR DELETE ON accounts_auditevent
    FOR EACH ROW EXECUTE FUNCTION accounts_auditevent_guard();
CREATE TRIGGER accounts_auditevent_no_truncate
    BEFORE TRUNCATE ON accounts_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION accounts_auditevent_no_truncate();
"""

PG_REVERSE = r"""
DROP TRIGGER IF EXISTS accounts_auditevent_guard ON accounts_auditevent;
DROP TRIGGER IF EXISTS accounts_auditevent_no_truncate ON accounts_auditevent;
DROP FUNCTION IF EXISTS accounts_auditevent_guard();
DROP FUNCTION IF EXISTS accounts_auditevent_no_truncate();
"""

SQLITE_FORWARD = [
    """
    CREATE TRIGGER accounts_auditevent_no_delete BEFORE DELETE ON accounts_auditevent
    BEGIN SELECT RAISE(ABORT, 'audit events are append-only: delete refused'); END;
    """,
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
      OR (NEW.actor_email IS NOT OLD.actor_email AND NEW.actor_email <> '')
      OR (NEW.user_agent IS NOT OLD.user_agent AND NEW.user_agent <> '')
    BEGIN SELECT RAISE(ABORT, 'audit events are append-only: only personal data may be erased'); END;
    """,
]

SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS accounts_auditevent_no_delete;",
    "DROP TRIGGER IF EXISTS accounts_auditevent_no_update;",
]


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_FORWARD)
    elif schema_editor.connection.vendor == "sqlite":
        for statement in SQLITE_FORWARD:
            schema_editor.execute(statement)


def reverse(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_REVERSE)
    elif schema_editor.connection.vendor == "sqlite":
        for statement in SQLITE_REVERSE:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]

    operations = [migrations.RunPython(forward, reverse)]
