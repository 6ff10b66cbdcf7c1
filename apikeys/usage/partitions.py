"""Time partitions of the usage table on PostgreSQL, kept by pg_partman.

The table is range-partitioned by `occurred_at`, one partition per UTC day (migration
apikeys 0006). pg_partman (Debian's `postgresql-16-partman`) creates the partitions
ahead of time and the default partition; beat runs its maintenance hourly through
`usage_partitions_maintain`, which also alerts staff when the default partition holds
rows. It should always be empty: ingestion refuses events older than
ROLLUP_MAX_AGE_DAYS or more than an hour ahead, and partitions exist from before that
to a week ahead. A row there means maintenance stopped, and it would make pg_partman
unable to create the partition for that day.

Retention removes whole partitions past the longest usage period with one `DROP
TABLE` each (`usage_partitions_drop_before`): metadata only, however many rows.

Both create or drop tables, which only the owner role may do; the application role
(web, workers, beat) calls two `SECURITY DEFINER` functions owned by the owner role
instead (migration apikeys 0007), which touch the usage table's partitions only.

On other databases (the SQLite demo) the table is a plain table and these functions
do nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import OperationalError, connection, transaction
from psycopg.errors import LockNotAvailable

from accounts.emails import email_enqueue
from accounts.models import User
from apikeys.usage.models import UsageRecord

logger = logging.getLogger(__name__)

# A drop takes an exclusive lock on the parent table for a moment; rather than queue
# behind a long read (and make ingestion queue behind the drop), give up and retry on
# the next run.
DROP_LOCK_TIMEOUT_MS = 50


@dataclass(frozen=True, slots=True)
class Partition:
    name: str
    start: dt.datetime
    end: dt.datetime


def _table() -> str:
    return UsageRecord._meta.db_table


def _parent(cursor) -> str:
    cursor.execute("SELECT current_schema()")
    return f"{cursor.fetchone()[0]}.{_table()}"


def usage_partitioned() -> bool:
    """Tell whether the usage table is partitioned (PostgreSQL after the migration)."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT relkind FROM pg_class WHERE oid = to_regclass(%s)", [_table()])
        row = cursor.fetchone()
    return row is not None and row[0] == "p"


def usage_partitions() -> list[Partition]:
    """Return the time partitions (not the default one), oldest first."""
    if not usage_partitioned():
        return []
    with connection.cursor() as cursor:
        parent = _parent(cursor)
        cursor.execute(
            "SELECT p.partition_tablename, i.child_start_time, i.child_end_time "
            "FROM partman.show_partitions(%s) p CROSS JOIN LATERAL "
            "partman.show_partition_info(p.partition_schemaname || '.' || "
            "p.partition_tablename, p_parent_table => %s) i ORDER BY 2",
            [parent, parent],
        )
        return [Partition(name, start, end) for name, start, end in cursor.fetchall()]


def usage_default_partition_rows() -> int:
    """Count the rows in the default partition (0 when the table is not partitioned)."""
    if not usage_partitioned():
        return 0
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {qn(_table() + '_default')}")  # noqa: S608
        return cursor.fetchone()[0]


def usage_partitions_maintain() -> dict:
    """Create the partitions due ahead and check the default partition; alert if not empty.

    Safe to run several times at once: pg_partman's maintenance takes an advisory lock.
    """
    if not usage_partitioned():
        return {"partitioned": False}
    with connection.cursor() as cursor:
        # Owned by the owner role (migration apikeys 0007): the application role may
        # run the usage table's maintenance, not create tables.
        cursor.execute("SELECT current_setting('search_path')")
        (search_path,) = cursor.fetchone()
        cursor.execute("SELECT apikeys_usage_partitions_maintain()")
        # pg_partman sets the session's search_path back to the one it saw, the
        # function's fixed one, and that outlasts the call: restore the connection's.
        cursor.execute("SELECT set_config('search_path', %s, false)", [search_path])
    partitions = usage_partitions()
    default_rows = usage_default_partition_rows()
    if default_rows:
        _alert_default_rows(default_rows, partitions)
    return {
        "partitioned": True,
        "partitions": len(partitions),
        "ahead_until": partitions[-1].end.isoformat() if partitions else None,
        "default_rows": default_rows,
    }


def _alert_recipients() -> list[str]:
    configured = list(getattr(settings, "USAGE_PARTITION_ALERT_EMAILS", []))
    if configured:
        return configured
    staff = User.objects.filter(is_active=True, is_staff=True, is_superuser=True)
    return list(staff.values_list("email", flat=True))


def _alert_default_rows(rows: int, partitions: list[Partition]) -> None:
    logger.error("The usage table's default partition holds %d rows.", rows)
    today = dt.datetime.now(dt.UTC).date().isoformat()
    # Once a day, however often maintenance runs: the log line above repeats hourly.
    if not cache.add(f"usage-default-partition-alert:{today}", 1, timeout=86400):
        return
    with transaction.atomic():
        email_enqueue(
            to=_alert_recipients(),
            template="apikeys/email/usage_default_partition",
            context={
                "rows": rows,
                "table": _table(),
                "first": partitions[0].start if partitions else None,
                "last": partitions[-1].end if partitions else None,
            },
        )


def usage_partitions_drop_before(
    *, before: dt.datetime, timed: Callable[[float], None] | None = None
) -> tuple[int, int, int]:
    """Drop the partitions that end at or before `before`; return (partitions, rows, skipped).

    Each drop is its own short transaction; `timed` is called with the start
    (`time.perf_counter()`) of each. A drop that cannot get its lock within
    DROP_LOCK_TIMEOUT_MS is skipped (counted) and done by the next run.
    """
    dropped = rows = skipped = 0
    for partition in usage_partitions():
        if partition.end > before:
            break
        with connection.cursor() as cursor:
            # Counted for the run record; the partition is past every period, so
            # nothing can be written to it any more (ingestion refuses such old events).
            # Through the parent: partitions made by maintenance carry no grants of their own.
            cursor.execute(
                f"SELECT count(*) FROM {connection.ops.quote_name(_table())} "  # noqa: S608
                "WHERE occurred_at >= %s AND occurred_at < %s",
                [partition.start, partition.end],
            )
            count = cursor.fetchone()[0]
            started = time.perf_counter()
            try:
                with transaction.atomic():
                    # A drop lost in a crash is done again by the next run: the commit
                    # need not wait for the disk.
                    cursor.execute("SET LOCAL synchronous_commit = off")
                    # Owned by the owner role (migration apikeys 0007): it drops only a
                    # day partition of the usage table, waiting at most the timeout.
                    cursor.execute(
                        "SELECT apikeys_usage_partition_drop(%s, %s)",
                        [partition.name, DROP_LOCK_TIMEOUT_MS],
                    )
            except OperationalError as exc:
                if timed is not None:
                    timed(started)
                if not isinstance(exc.__cause__, LockNotAvailable):
                    raise
                logger.warning("Usage partition %s is busy; dropped next run.", partition.name)
                skipped += 1
                continue
        if timed is not None:
            timed(started)
        dropped += 1
        rows += count
    return dropped, rows, skipped
