import datetime as dt

import pytest
import time_machine

from apikeys.usage.selectors import (
    UsageQuery,
    usage_by_day,
    usage_by_day_and_model,
    usage_by_model,
)
from apikeys.usage.services import usage_records_ingest, usage_rollup_recent
from tests.apikeys.usage_support import NOW, TODAY, make_key, usage_event

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _frozen_now():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def keys(workspace):
    main = make_key(workspace, name="Main")
    other = make_key(workspace, name="Other")
    yesterday = NOW - dt.timedelta(days=1)
    usage_records_ingest(
        events=[
            usage_event(main, request_id="a1", occurred_at=yesterday, input_tokens=1000),
            usage_event(main, request_id="a2", occurred_at=yesterday, model="small-1"),
            usage_event(other, request_id="b1", occurred_at=yesterday, model="small-1"),
            usage_event(other, request_id="b2", moderation="flagged", status=500),
            usage_event(main, request_id="t1", moderation="blocked", model="embed-1"),
        ]
    )
    usage_rollup_recent()
    return {"main": main, "other": other}


@pytest.mark.parametrize(
    ("key", "model"), [(None, ""), ("main", ""), ("other", ""), (None, "small-1")]
)
def test_by_day_and_model_in_one_read_matches_the_two_reads(workspace, keys, key, model):
    query = UsageQuery(
        start=TODAY - dt.timedelta(days=6),
        end=TODAY,
        api_key=keys[key] if key else None,
        model=model,
    )
    by_day, by_model = usage_by_day_and_model(workspace=workspace, query=query)
    assert by_day == usage_by_day(workspace=workspace, query=query)
    assert by_model == usage_by_model(workspace=workspace, query=query)
    assert len(by_day) == 7 and sum(row["requests"] for row in by_day) > 0


def test_by_day_and_model_reads_the_rollups_once(workspace, keys, django_assert_num_queries):
    query = UsageQuery(start=TODAY - dt.timedelta(days=29), end=TODAY)
    with django_assert_num_queries(1):
        by_day, by_model = usage_by_day_and_model(workspace=workspace, query=query)
    assert {row["model"] for row in by_model} >= {"small-1", "embed-1"}
    assert sum(row["requests"] for row in by_day) == sum(row["requests"] for row in by_model) == 5
