"""Workspace deletion on the usage table partitioned by day (PostgreSQL)."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from apikeys.usage.models import UsageRecord
from apikeys.usage.partitions import usage_default_partition_rows
from tests.factories import WorkspaceFactory, api_key_row, usage_rows_load
from tests.privacy.deletion.test_windows import delete_all

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="partitions are PostgreSQL's"),
]


def _rows_per_partition(workspace) -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tableoid::regclass::text, count(*) FROM apikeys_usagerecord "
            "WHERE workspace_id = %s GROUP BY 1",
            [workspace.pk],
        )
        return dict(cursor.fetchall())


def test_a_workspace_s_usage_in_several_day_partitions_is_deleted_window_by_window():
    workspace, other = WorkspaceFactory(name="Going"), WorkspaceFactory(name="Staying")
    key, other_key = api_key_row(workspace), api_key_row(other)
    midnight = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    for days_back in (3, 2, 1):
        start = midnight - timedelta(days=days_back)
        usage_rows_load(workspace, key, 400, start=start)
        usage_rows_load(other, other_key, 50, start=start)
    # The rows sit in three day partitions, none in the default one.
    assert len(_rows_per_partition(workspace)) == 3
    assert usage_default_partition_rows() == 0

    counts = delete_all(workspace, first_batch=100, max_rows=300)

    assert sum(counts) == 1200
    # Batches stay bounded across partition boundaries, as in a plain table.
    assert max(counts) <= 300 * 2
    assert not UsageRecord.objects.filter(workspace=workspace).exists()
    assert UsageRecord.objects.filter(workspace=other).count() == 150
