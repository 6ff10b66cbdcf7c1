"""Partition the usage table by time on PostgreSQL (one partition a day, pg_partman).

A partitioned table's unique constraints must include the partition key, so a request
becomes unique per (request_id, occurred_at) everywhere, and on PostgreSQL the primary
key becomes (id, occurred_at). The existing table is converted in place: it is renamed
aside, a partitioned table takes its name with partitions from the oldest stored day
(30 days back at least) to a week ahead, the rows are copied and the old table is
dropped. The copy runs in the migration's transaction; ingestion waits for it.

Reversible: going back copies the rows into a plain table again. That fails (and
changes nothing) if, meanwhile, two rows were stored with one request id at different
times, since the plain table's request ids are unique.

Other databases (the SQLite demo) keep a plain table and get only the new constraint.
"""

from django.db import migrations, models

TABLE = "apikeys_usagerecord"
# Days of partitions kept ready ahead of today; maintenance keeps it so.
PREMAKE_DAYS = 7


def _indexes(cursor, table):
    """Return (name, definition, is_primary, constraint columns or None) of each index."""
    cursor.execute(
        """
        SELECT i.relname, pg_get_indexdef(x.indexrelid), x.indisprimary,
               CASE WHEN c.contype = 'u' THEN (
                   SELECT array_agg(a.attname ORDER BY k.ord)
                   FROM unnest(x.indkey) WITH ORDINALITY AS k(attnum, ord)
                   JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum)
               END
        FROM pg_index x
        JOIN pg_class i ON i.oid = x.indexrelid
        LEFT JOIN pg_constraint c ON c.conindid = x.indexrelid AND c.conrelid = x.indrelid
        WHERE x.indrelid = %s::regclass
        ORDER BY i.relname
        """,
        [table],
    )
    return cursor.fetchall()


def _move(cursor, *, source, target, partitioned):
    """Give `target` the indexes of `source` (renamed away first), copy the rows, drop it."""
    qn = '"{}"'.format
    for name, definition, primary, unique_columns in _indexes(cursor, source):
        cursor.execute(f"ALTER INDEX {qn(name)} RENAME TO {qn('old_' + name[:50])}")
        if primary:
            columns = "id, occurred_at" if partitioned else "id"
            cursor.execute(f"ALTER TABLE {qn(target)} ADD CONSTRAINT {qn(name)} PRIMARY KEY ({columns})")
        elif unique_columns:
            cursor.execute(
                f"ALTER TABLE {qn(target)} ADD CONSTRAINT {qn(name)} "
                f"UNIQUE ({', '.join(qn(c) for c in unique_columns)})"
            )
        else:
            on_source = definition.split(" ON ", 1)[1].split(" USING ", 1)[1]
            cursor.execute(f"CREATE INDEX {qn(name)} ON {qn(target)} USING {on_source}")
    cursor.execute(f"INSERT INTO {qn(target)} SELECT * FROM {qn(source)}")
    cursor.execute(
        f"SELECT setval(pg_get_serial_sequence(%s, 'id'), "
        f"(SELECT COALESCE(max(id), 0) + 1 FROM {qn(source)}), false)",
        [target],
    )
    cursor.execute(f"DROP TABLE {qn(source)}")


def _rename_sequence(cursor, table, new_name):
    cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
    (sequence,) = cursor.fetchone()
    cursor.execute(f'ALTER SEQUENCE {sequence} RENAME TO "{new_name}"')


def partition(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("CREATE SCHEMA IF NOT EXISTS partman")
        cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_partman SCHEMA partman")
        old = f"{TABLE}_unpartitioned"
        cursor.execute(f'ALTER TABLE "{TABLE}" RENAME TO "{old}"')
        _rename_sequence(cursor, old, f"{old}_id_seq")
        cursor.execute(
            f'CREATE TABLE "{TABLE}" (LIKE "{old}" INCLUDING DEFAULTS INCLUDING CONSTRAINTS '
            "INCLUDING IDENTITY INCLUDING STORAGE) PARTITION BY RANGE (occurred_at)"
        )
        # Partitions from the oldest stored day, or the oldest day ingestion still takes
        # events for, to PREMAKE_DAYS ahead.
        cursor.execute(
            "SELECT date_trunc('day', LEAST(COALESCE(min(occurred_at), now()), "
            f"now() - interval '30 days') AT TIME ZONE 'UTC') FROM \"{old}\""
        )
        (start,) = cursor.fetchone()
        cursor.execute(
            "SELECT partman.create_parent(p_parent_table => current_schema() || '.' || %s, "
            "p_control => 'occurred_at', p_type => 'native', p_interval => 'daily', "
            "p_premake => %s, p_start_partition => %s, p_jobmon => false)",
            [TABLE, PREMAKE_DAYS, start.strftime("%Y-%m-%d 00:00:00+00")],
        )
        # Partitions ahead are made even on a day without usage.
        cursor.execute(
            "UPDATE partman.part_config SET infinite_time_partitions = true "
            "WHERE parent_table = current_schema() || '.' || %s",
            [TABLE],
        )
        _move(cursor, source=old, target=TABLE, partitioned=True)


def unpartition(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        old = f"{TABLE}_partitioned"
        cursor.execute(f'ALTER TABLE "{TABLE}" RENAME TO "{old}"')
        _rename_sequence(cursor, old, f"{old}_id_seq")
        cursor.execute(
            "DELETE FROM partman.part_config WHERE parent_table = current_schema() || '.' || %s "
            "RETURNING template_table",
            [TABLE],
        )
        for (template,) in cursor.fetchall():
            cursor.execute(f"DROP TABLE IF EXISTS {template}")
        cursor.execute(
            f'CREATE TABLE "{TABLE}" (LIKE "{old}" INCLUDING DEFAULTS INCLUDING CONSTRAINTS '
            "INCLUDING IDENTITY INCLUDING STORAGE)"
        )
        _move(cursor, source=old, target=TABLE, partitioned=False)


class Migration(migrations.Migration):

    dependencies = [
        ("apikeys", "0005_usage_workspace_rollup"),
    ]

    operations = [
        migrations.AlterField(
            model_name="usagerecord",
            name="request_id",
            field=models.CharField(max_length=64),
        ),
        migrations.AddConstraint(
            model_name="usagerecord",
            constraint=models.UniqueConstraint(
                fields=("request_id", "occurred_at"), name="usage_request_unique"
            ),
        ),
        migrations.RunPython(partition, unpartition),
    ]
