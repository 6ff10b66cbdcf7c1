"""Usage ingestion and daily rollups (apikeys.usage.services), against the real database."""

import datetime as dt

import pytest
import time_machine
from django.db import connection

from accounts.errors import DomainError
from apikeys.usage.models import UsageDailyRollup, UsageRecord, UsageWorkspaceDailyRollup
from apikeys.usage.services import (
    MAX_BATCH_EVENTS,
    REJECT_IN_FUTURE,
    REJECT_TOO_OLD,
    REJECT_UNKNOWN_KEY,
    BatchTooLarge,
    usage_records_ingest,
    usage_rollup_day,
    usage_rollup_days,
    usage_rollup_recent,
)
from tests.apikeys.usage_support import NOW, TODAY, make_key, usage_event
from tests.factories import WorkspaceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _frozen_now():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def api_key(workspace):
    return make_key(workspace)


def test_ingest_stores_a_batch_in_bulk_with_workspace_resolved_from_the_key(
    workspace, api_key, django_assert_max_num_queries
):
    events = [usage_event(api_key, request_id=f"r{i}") for i in range(500)]
    # Key lookup, the lock of the batch's days, one INSERT, one upsert per rollup table,
    # plus the savepoint: independent of size.
    with django_assert_max_num_queries(7):
        result = usage_records_ingest(events=events)
    assert (result.accepted, result.duplicates, result.rejected) == (500, 0, [])
    assert UsageRecord.objects.filter(workspace=workspace, api_key=api_key).count() == 500


def test_replaying_a_batch_stores_nothing_new_and_counts_duplicates(api_key):
    events = [usage_event(api_key, request_id=f"r{i}") for i in range(10)]
    usage_records_ingest(events=events)
    replay = usage_records_ingest(events=events)
    assert (replay.accepted, replay.duplicates) == (0, 10)
    assert UsageRecord.objects.count() == 10


def test_a_request_id_repeated_within_a_batch_is_stored_once(api_key):
    events = [usage_event(api_key, request_id="same"), usage_event(api_key, request_id="same")]
    result = usage_records_ingest(events=events)
    assert (result.accepted, result.duplicates) == (1, 1)
    assert UsageRecord.objects.filter(request_id="same").count() == 1


def test_events_for_unknown_keys_are_reported_and_not_stored(api_key):
    events = [usage_event(api_key, request_id="ok"), usage_event("nosuchkey123", request_id="x")]
    result = usage_records_ingest(events=events)
    assert result.accepted == 1
    assert [(r.index, r.request_id, r.reason) for r in result.rejected] == [
        (1, "x", REJECT_UNKNOWN_KEY)
    ]
    assert list(UsageRecord.objects.values_list("request_id", flat=True)) == ["ok"]


def test_keys_of_deleted_workspaces_count_as_unknown(workspace, api_key):
    workspace.deleted_at = NOW
    workspace.save(update_fields=["deleted_at"])
    result = usage_records_ingest(events=[usage_event(api_key)])
    assert result.accepted == 0
    assert result.rejected[0].reason == REJECT_UNKNOWN_KEY
    assert not UsageRecord.objects.exists()


def test_events_too_old_or_from_the_future_are_rejected(api_key):
    events = [
        usage_event(api_key, request_id="old", occurred_at=NOW - dt.timedelta(days=8)),
        usage_event(api_key, request_id="future", occurred_at=NOW + dt.timedelta(hours=2)),
    ]
    result = usage_records_ingest(events=events)
    assert result.accepted == 0
    assert [r.reason for r in result.rejected] == [REJECT_TOO_OLD, REJECT_IN_FUTURE]


def test_client_ip_is_stored_encrypted(api_key):
    usage_records_ingest(events=[usage_event(api_key, request_id="r1")])
    assert UsageRecord.objects.get(request_id="r1").client_ip == "203.0.113.7"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT client_ip FROM {UsageRecord._meta.db_table} WHERE request_id = %s",  # noqa: S608
            ["r1"],
        )
        stored = cursor.fetchone()[0]
    assert "203.0.113.7" not in stored


def test_zero_data_retention_drops_the_client_ip(workspace, api_key):
    workspace.zero_data_retention = True
    workspace.save(update_fields=["zero_data_retention"])
    usage_records_ingest(events=[usage_event(api_key, request_id="r1")])
    assert UsageRecord.objects.get(request_id="r1").client_ip is None


def test_batches_larger_than_the_limit_are_refused_whole(api_key):
    events = [usage_event(api_key, request_id=f"r{i}") for i in range(MAX_BATCH_EVENTS + 1)]
    with pytest.raises(BatchTooLarge):
        usage_records_ingest(events=events)
    assert not UsageRecord.objects.exists()


# ---------------------------------------------------------------------------- rollups


def _ingest_day(api_key, day_offset: int, count: int, **overrides):
    when = NOW - dt.timedelta(days=day_offset)
    events = [
        usage_event(
            api_key,
            request_id=f"d{day_offset}-{api_key.pk}-{overrides.get('model', 'm')}-{i}",
            occurred_at=when,
            **overrides,
        )
        for i in range(count)
    ]
    # Old days go straight to the table: ingestion refuses events older than a week.
    UsageRecord.objects.bulk_create(
        UsageRecord(
            workspace_id=api_key.workspace_id,
            api_key=api_key,
            request_id=e.request_id,
            occurred_at=e.occurred_at,
            model=e.model,
            input_tokens=e.input_tokens,
            output_tokens=e.output_tokens,
            status=e.status,
            latency_ms=e.latency_ms,
            moderation=e.moderation,
        )
        for e in events
    )


def test_rollup_sums_match_the_raw_records_per_key_model_and_day(workspace, api_key):
    other_key = make_key(workspace, name="Batch jobs")
    _ingest_day(api_key, 1, 3, model="large-1", input_tokens=10, output_tokens=5)
    _ingest_day(api_key, 1, 2, model="small-1", status=500, moderation="flagged")
    _ingest_day(other_key, 1, 4, model="large-1", moderation="blocked", input_tokens=7)
    _ingest_day(api_key, 2, 6, model="large-1")  # another day: not in this rollup

    usage_rollup_day(day=TODAY - dt.timedelta(days=1))

    rows = {
        (r.api_key_id, r.model): r
        for r in UsageDailyRollup.objects.filter(day=TODAY - dt.timedelta(days=1))
    }
    assert set(rows) == {
        (api_key.pk, "large-1"),
        (api_key.pk, "small-1"),
        (other_key.pk, "large-1"),
    }
    large = rows[(api_key.pk, "large-1")]
    assert (large.requests, large.input_tokens, large.output_tokens) == (3, 30, 15)
    small = rows[(api_key.pk, "small-1")]
    assert (small.requests, small.errors, small.flagged, small.blocked) == (2, 2, 2, 0)
    other = rows[(other_key.pk, "large-1")]
    assert (other.requests, other.input_tokens, other.blocked) == (4, 28, 4)
    assert all(r.workspace_id == workspace.pk for r in rows.values())


def test_rollup_recompute_is_idempotent_and_picks_up_new_records(api_key):
    day = TODAY - dt.timedelta(days=1)
    _ingest_day(api_key, 1, 3)
    usage_rollup_day(day=day)
    usage_rollup_day(day=day)
    assert list(UsageDailyRollup.objects.values_list("requests", flat=True)) == [3]
    usage_records_ingest(
        events=[usage_event(api_key, request_id="late", occurred_at=NOW - dt.timedelta(days=1))]
    )
    usage_rollup_day(day=day)
    assert list(UsageDailyRollup.objects.values_list("requests", flat=True)) == [4]


def test_rollups_survive_the_deletion_of_raw_records(api_key):
    day = TODAY - dt.timedelta(days=3)
    _ingest_day(api_key, 3, 5)
    usage_rollup_day(day=day)
    UsageRecord.objects.all().delete()
    usage_rollup_day(day=day)
    rollup = UsageDailyRollup.objects.get(day=day)
    assert (rollup.requests, rollup.input_tokens) == (5, 500)


def test_rollups_hold_no_personal_data():
    names = {field.name for field in UsageDailyRollup._meta.get_fields()}
    assert names.isdisjoint({"client_ip", "request_id", "created_by", "user", "email"})


def test_rollup_refuses_days_whose_raw_records_retention_may_have_purged():
    with pytest.raises(DomainError):
        usage_rollup_day(day=TODAY - dt.timedelta(days=30))
    with pytest.raises(DomainError):
        usage_rollup_day(day=TODAY + dt.timedelta(days=1))


def test_rollup_recent_covers_yesterday_and_today(api_key):
    _ingest_day(api_key, 0, 2)
    _ingest_day(api_key, 1, 3)
    _ingest_day(api_key, 2, 4)
    usage_rollup_recent()
    assert dict(UsageDailyRollup.objects.values_list("day", "requests")) == {
        TODAY: 2,
        TODAY - dt.timedelta(days=1): 3,
    }


def test_late_events_for_older_days_trigger_their_rollup_on_commit(
    api_key, django_capture_on_commit_callbacks
):
    three_days_ago = NOW - dt.timedelta(days=3)
    with django_capture_on_commit_callbacks(execute=True):
        usage_records_ingest(
            events=[usage_event(api_key, request_id="late", occurred_at=three_days_ago)]
        )
    assert dict(UsageDailyRollup.objects.values_list("day", "requests")) == {
        three_days_ago.date(): 1
    }


def test_other_workspaces_rollups_are_separate(workspace, api_key):
    other_key = make_key(WorkspaceFactory(name="Other"))
    _ingest_day(api_key, 1, 2)
    _ingest_day(other_key, 1, 5)
    usage_rollup_day(day=TODAY - dt.timedelta(days=1), workspace_id=workspace.pk)
    assert list(UsageDailyRollup.objects.values_list("workspace_id", "requests")) == [
        (workspace.pk, 2)
    ]


def _rollup_rows():
    metrics = ("requests", "input_tokens", "output_tokens", "errors", "flagged", "blocked")

    def rows(model, group):
        return {
            row[: len(group)]: row[len(group) :]
            for row in model.objects.values_list(*group, *metrics)
        }

    return (
        rows(UsageDailyRollup, ("workspace_id", "api_key_id", "day", "model")),
        rows(UsageWorkspaceDailyRollup, ("workspace_id", "day", "model")),
    )


def test_ingest_keeps_both_rollups_current_as_a_recompute_would(workspace, api_key):
    other_key = make_key(workspace, name="Batch jobs")
    elsewhere = make_key(WorkspaceFactory(name="Other"))
    # Two batches over two days, keys, models and outcomes; no rollup task runs.
    for batch in range(2):
        usage_records_ingest(
            events=[
                usage_event(
                    (api_key, other_key, elsewhere)[i % 3],
                    request_id=f"b{batch}-{i}",
                    occurred_at=NOW - dt.timedelta(hours=9 * (i % 4)),
                    model=("large-1", "small-1")[i % 2],
                    input_tokens=10 + i,
                    output_tokens=i,
                    status=(200, 429, 500)[i % 3],
                    moderation=("none", "flagged", "blocked", "none")[i % 4],
                )
                for i in range(30)
            ]
        )
    # A replay adds nothing.
    usage_records_ingest(events=[usage_event(api_key, request_id="b0-0")])
    per_key, workspace_wide = _rollup_rows()
    assert sum(row[0] for row in per_key.values()) == 60
    assert sum(row[0] for row in workspace_wide.values()) == 60

    usage_rollup_days(days=[TODAY - dt.timedelta(days=d) for d in range(3)])

    assert _rollup_rows() == (per_key, workspace_wide)
    # The workspace-wide rollup is the per-key one summed over keys.
    summed = {}
    for (workspace_id, _key, day, model), row in per_key.items():
        totals = summed.setdefault((workspace_id, day, model), [0] * 6)
        for index, value in enumerate(row):
            totals[index] += value
    assert {group: tuple(row) for group, row in summed.items()} == workspace_wide


def test_rollups_of_the_workspace_hold_no_personal_data():
    names = {field.name for field in UsageWorkspaceDailyRollup._meta.get_fields()}
    assert names.isdisjoint({"client_ip", "request_id", "api_key", "created_by", "user"})
