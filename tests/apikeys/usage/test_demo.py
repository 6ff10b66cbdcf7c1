"""The demo seeder for usage (apikeys.usage.demo)."""

import datetime as dt

import pytest
import time_machine

from apikeys.usage.demo import DEMO_DAYS, usage_demo_seed
from apikeys.usage.models import UsageDailyRollup, UsageRecord
from apikeys.usage.selectors import UsageQuery, usage_by_day
from tests.apikeys.usage_support import NOW, TODAY

pytestmark = pytest.mark.django_db


def test_demo_seed_fills_a_month_of_rolled_up_usage_once(user, workspace):
    with time_machine.travel(NOW, tick=False):
        lines = usage_demo_seed(user=user, workspace=workspace)
        stored = UsageRecord.objects.filter(workspace=workspace).count()
        assert stored > 1000
        assert lines == [f"Usage: {stored} sample requests over the last {DEMO_DAYS} days."]
        start = TODAY - dt.timedelta(days=DEMO_DAYS - 1)
        rows = usage_by_day(workspace=workspace, query=UsageQuery(start=start, end=TODAY))
        assert all(row["requests"] > 0 for row in rows[:-1])
        assert sum(row["requests"] for row in rows) == stored
        assert UsageDailyRollup.objects.filter(workspace=workspace, day=start).exists()

        assert usage_demo_seed(user=user, workspace=workspace) == []
        assert UsageRecord.objects.filter(workspace=workspace).count() == stored
