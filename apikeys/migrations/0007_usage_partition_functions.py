"""Partition maintenance and retention for the application role (PostgreSQL).

Creating and dropping partitions needs the table owner's privileges; web and workers
connect as the application role, which has DML only. Two `SECURITY DEFINER` functions,
owned by the role that runs migrations, do exactly these two things and nothing else:

- `apikeys_usage_partitions_maintain()` runs pg_partman's maintenance of the usage table;
- `apikeys_usage_partition_drop(name, lock_timeout_ms)` drops one day partition of the
  usage table, after checking that the table is one (never the default partition), with
  a lock timeout so that it gives up rather than queue behind a long read.

Both have a fixed search_path and name the usage table with its schema at migration
time. EXECUTE is revoked from PUBLIC; `db_roles` grants it to the application role.
Other databases (the SQLite demo) get nothing.
"""

from django.db import migrations

TABLE = "apikeys_usagerecord"

CREATE = """
CREATE OR REPLACE FUNCTION {schema}.apikeys_usage_partitions_maintain()
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, partman
AS $fn$
BEGIN
  PERFORM partman.run_maintenance({parent}, p_analyze => false, p_jobmon => false);
END
$fn$;

CREATE OR REPLACE FUNCTION {schema}.apikeys_usage_partition_drop(
  p_partition text, p_lock_timeout_ms integer
)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, partman
AS $fn$
BEGIN
  IF NOT EXISTS (
    SELECT 1
    FROM pg_catalog.pg_inherits i
    JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE i.inhparent = pg_catalog.to_regclass({parent})
      AND n.nspname = {schema_literal}
      AND c.relname = p_partition
      AND c.relkind = 'r'
      AND NOT pg_catalog.pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT'
  ) THEN
    RAISE EXCEPTION '% is not a day partition of the usage table', p_partition
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  PERFORM pg_catalog.set_config('lock_timeout', p_lock_timeout_ms::text || 'ms', true);
  EXECUTE pg_catalog.format('DROP TABLE %I.%I', {schema_literal}, p_partition);
END
$fn$;

REVOKE ALL ON FUNCTION {schema}.apikeys_usage_partitions_maintain() FROM PUBLIC;
REVOKE ALL ON FUNCTION {schema}.apikeys_usage_partition_drop(text, integer) FROM PUBLIC;
"""

DROP = """
DROP FUNCTION IF EXISTS {schema}.apikeys_usage_partition_drop(text, integer);
DROP FUNCTION IF EXISTS {schema}.apikeys_usage_partitions_maintain();
"""


def _schema(schema_editor) -> str:
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        return cursor.fetchone()[0]


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema = _schema(schema_editor)
    sql = CREATE.format(
        schema=schema_editor.quote_name(schema),
        schema_literal=_literal(schema),
        parent=_literal(f"{schema}.{TABLE}"),
    )
    # Without parameters: the function bodies hold '%' placeholders of their own.
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(sql)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    sql = DROP.format(schema=schema_editor.quote_name(_schema(schema_editor)))
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [
        ("apikeys", "0006_usage_partitioned_by_time"),
    ]

    operations = [migrations.RunPython(create, drop)]
