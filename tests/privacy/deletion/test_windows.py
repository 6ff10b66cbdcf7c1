"""Windowed bulk deletes along the (workspace_id, time) index."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from apikeys.usage.models import UsageDailyRollup, UsageRecord
from privacy.deletion.services import _step_bulk, bulk_delete_window
from tests.factories import WorkspaceFactory, api_key_row, usage_rows_load

pytestmark = pytest.mark.django_db


def window(workspace, since=None, span=None, **overrides):
    options = {
        "model": UsageRecord,
        "workspace_id": workspace.pk,
        "time_field": "occurred_at",
        "since": since,
        "span": span,
        "first_batch": 100,
        "max_rows": 100_000,
        "target_ms": 40,
        "timeout_ms": 5000,
    }
    return bulk_delete_window(**{**options, **overrides})


def delete_all(workspace, **overrides):
    since, span, windows, counts = None, None, 0, []
    while True:
        result = window(workspace, since=since, span=span, **overrides)
        counts.append(result.count)
        windows += 1
        if result.since is None:
            return counts
        assert windows < 500, "the windows never reached the end"
        since, span = result.since, result.span


@pytest.fixture
def two_workspaces():
    mine = WorkspaceFactory()
    theirs = WorkspaceFactory()
    now = timezone.now()
    # Two clusters of rows ten days apart, to cross a gap; the other workspace's rows
    # sit in between and must survive.
    usage_rows_load(mine, api_key_row(mine), 3000, start=now - timedelta(days=20))
    usage_rows_load(mine, api_key_row(mine, n=1), 2000, start=now - timedelta(days=10))
    usage_rows_load(theirs, api_key_row(theirs), 1500, start=now - timedelta(days=15))
    return mine, theirs


def test_first_window_is_exactly_the_first_batch(two_workspaces):
    mine, _ = two_workspaces

    result = window(mine)

    assert result.count == 100
    assert UsageRecord.objects.filter(workspace_id=mine.pk).count() == 4900
    assert (
        result.since
        == UsageRecord.objects.filter(workspace_id=mine.pk).earliest("occurred_at").occurred_at
    )
    assert result.span > 0


def test_windows_delete_every_row_of_the_workspace_and_nothing_else(two_workspaces):
    mine, theirs = two_workspaces

    counts = delete_all(mine)

    assert sum(counts) == 5000
    assert not UsageRecord.objects.filter(workspace_id=mine.pk).exists()
    assert UsageRecord.objects.filter(workspace_id=theirs.pk).count() == 1500


def test_fast_windows_grow_towards_the_time_target(two_workspaces):
    mine, _ = two_workspaces

    # A target no window here can reach, however slow the machine: every window doubles.
    counts = delete_all(mine, target_ms=60_000)

    assert counts[0] == 100
    assert counts[1:4] == [200, 400, 800]
    assert sum(counts) == 5000
    assert len(counts) < 10


def test_windows_stay_near_the_row_ceiling(two_workspaces):
    mine, _ = two_workspaces

    counts = delete_all(mine, max_rows=250, target_ms=60_000)

    assert sum(counts) == 5000
    # Spans are scaled from the last window's density. Within a cluster the ceiling
    # holds; the window after a gap is sized from a short tail and may hold up to twice.
    assert max(counts) <= 2 * 250
    assert sorted(counts)[len(counts) // 2] == 250
    assert len(counts) >= 5000 // 300


def test_a_window_over_its_time_limit_is_cancelled_and_shrinks(two_workspaces):
    mine, _ = two_workspaces
    first = window(mine, first_batch=10)

    # A window spanning every remaining row, with a limit no delete of them can meet.
    result = window(mine, since=first.since, span=30 * 86400, timeout_ms=1)

    assert result.timed_out
    assert result.count == 0
    assert result.since == first.since and result.span == pytest.approx(30 * 86400 / 4)
    assert UsageRecord.objects.filter(workspace_id=mine.pk).count() == 4990
    # The transaction goes on: the cancelled statement was rolled back to a savepoint.
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)


def test_a_workspace_without_rows_is_finished_at_once():
    empty = WorkspaceFactory()

    result = window(empty)

    assert (result.count, result.since) == (0, None)


def test_a_bare_timestamp_cursor_still_resumes(two_workspaces):
    mine, _ = two_workspaces
    step = {"op": "bulk", "label": "apikeys.UsageRecord", "time": "occurred_at", "ws": str(mine.pk)}
    first = _step_bulk(step, None, 1000)
    legacy_cursor = first.cursor["since"]

    result = _step_bulk(step, legacy_cursor, 1000)
    while not result.finished:
        result = _step_bulk(step, result.cursor, 1000)

    assert not UsageRecord.objects.filter(workspace_id=mine.pk).exists()


def test_date_keyed_tables_go_in_exact_batches():
    workspace = WorkspaceFactory()
    key = api_key_row(workspace)
    today = timezone.now().date()
    UsageDailyRollup.objects.bulk_create(
        UsageDailyRollup(workspace=workspace, api_key=key, day=today - timedelta(days=n), model="m")
        for n in range(7)
    )
    step = {
        "op": "bulk",
        "label": "apikeys.UsageDailyRollup",
        "time": "day",
        "ws": str(workspace.pk),
    }

    batches = []
    result = _step_bulk(step, None, 3)
    batches.append(result.counts.get("apikeys.UsageDailyRollup", 0))
    while not result.finished:
        result = _step_bulk(step, result.cursor, 3)
        batches.append(result.counts.get("apikeys.UsageDailyRollup", 0))

    assert batches == [3, 3, 1]
    assert not UsageDailyRollup.objects.filter(workspace=workspace).exists()


def test_a_window_leaves_the_transaction_settings_as_they_were(two_workspaces):
    mine, _ = two_workspaces
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        (timeout_before,) = cursor.fetchone()
    first = window(mine)

    window(mine, since=first.since, span=first.span)

    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone() == (timeout_before,)
        cursor.execute("SHOW enable_indexscan")
        assert cursor.fetchone() == ("on",)
