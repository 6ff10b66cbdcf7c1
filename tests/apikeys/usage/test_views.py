"""The usage page, its CSV export and the per-key fragment; the isolation matrix of every
usage URL."""

import csv
import datetime as dt
import io

import pytest
import time_machine
from django.db import connection
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.errors import NotFound
from accounts.permissions import Role
from apikeys.keys.services import api_key_create
from apikeys.keys.tokens import Environment
from apikeys.usage.selectors import usage_series_for_key
from apikeys.usage.services import usage_records_ingest, usage_rollup_recent
from apikeys.usage.views import KEYS_PAGE_SIZE
from tests.apikeys.usage_support import NOW, TODAY, make_key, usage_event
from tests.factories import WorkspaceFactory, add_member

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _frozen_now():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def usage_data(workspace):
    """Two keys; yesterday rolled up, today live; one flagged and one blocked request."""
    main = make_key(workspace, name="Main")
    batch = make_key(workspace, name="=HYPERLINK(1)")
    yesterday = NOW - dt.timedelta(days=1)
    usage_records_ingest(
        events=[
            usage_event(main, request_id="a1", occurred_at=yesterday, input_tokens=1000),
            usage_event(main, request_id="a2", occurred_at=yesterday, moderation="flagged"),
            usage_event(batch, request_id="b1", occurred_at=yesterday, model="small-1"),
            usage_event(main, request_id="t1", moderation="blocked", status=429),
        ]
    )
    usage_rollup_recent()
    return {"main": main, "batch": batch}


def _urls(workspace):
    kwargs = {"workspace_id": workspace.pk}
    return {
        "page": reverse("usage_dashboard", kwargs=kwargs),
        "csv": reverse("usage_csv", kwargs=kwargs),
        "api": reverse("api_workspace_usage", kwargs=kwargs),
    }


def test_usage_page_shows_correct_totals_and_tables(client, user, workspace, usage_data):
    client.force_login(user)
    response = client.get(_urls(workspace)["page"])
    assert response.status_code == 200
    context = response.context
    assert context["totals"]["requests"] == 4
    assert context["totals"]["input_tokens"] == 1000 + 3 * 100
    assert (context["totals"]["flagged"], context["totals"]["blocked"]) == (1, 1)
    assert context["totals"]["errors"] == 1
    by_day = {row["day"]: row["requests"] for row in context["by_day"]}
    assert len(by_day) == 30
    assert (by_day[TODAY - dt.timedelta(days=1)], by_day[TODAY]) == (3, 1)
    # By name, a page of keys at a time.
    assert [(r["key_name"], r["requests"]) for r in context["by_key"]] == [
        ("=HYPERLINK(1)", 1),
        ("Main", 3),
    ]
    assert [(r["model"], r["requests"]) for r in context["by_model"]] == [
        ("large-1", 3),
        ("small-1", 1),
    ]
    html = response.content.decode()
    assert 'id="usage-data"' in html  # chart data for the script
    assert 'id="usage-by-day"' in html  # and its table alternative
    assert "style=" not in html.split("<main", 1)[1]  # the CSP forbids inline styles


def test_usage_page_filters_by_key_and_range(client, user, workspace, usage_data):
    client.force_login(user)
    params = {"key": usage_data["batch"].public_id, "from": "2026-03-14", "to": "2026-03-14"}
    response = client.get(_urls(workspace)["page"], params)
    assert response.status_code == 200
    assert response.context["totals"]["requests"] == 1
    assert len(response.context["by_day"]) == 1


def test_usage_page_with_bad_filters_answers_400(client, user, workspace, usage_data):
    client.force_login(user)
    response = client.get(_urls(workspace)["page"], {"from": "2026-03-15", "to": "2026-03-01"})
    assert response.status_code == 400
    assert response.context["form"].errors


def test_csv_export_streams_rows_per_day_key_and_model(client, user, workspace, usage_data):
    client.force_login(user)
    response = client.get(_urls(workspace)["csv"])
    assert response.status_code == 200
    assert response.streaming
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    summary = [(r["day"], r["key_id"], r["model"], r["requests"], r["flagged"]) for r in rows]
    main, batch = usage_data["main"].public_id, usage_data["batch"].public_id
    yesterday = (TODAY - dt.timedelta(days=1)).isoformat()
    assert sorted(summary) == sorted(
        [
            (yesterday, main, "large-1", "2", "1"),
            (yesterday, batch, "small-1", "1", "0"),
            (TODAY.isoformat(), main, "large-1", "1", "0"),
        ]
    )
    # A key name that looks like a spreadsheet formula stays text.
    assert {r["key_name"] for r in rows} == {"Main", "'=HYPERLINK(1)"}
    assert sum(int(r["input_tokens"]) for r in rows) == 1300


def test_csv_with_bad_filters_answers_400(client, user, workspace):
    client.force_login(user)
    response = client.get(_urls(workspace)["csv"], {"from": "garbage"})
    assert response.status_code == 400


def test_key_series_zero_fills_and_counts_one_key(workspace, usage_data):
    series = usage_series_for_key(workspace=workspace, api_key=usage_data["main"], days=7)
    assert [row["requests"] for row in series["days"]] == [0, 0, 0, 0, 0, 2, 1]
    assert series["totals"]["requests"] == 3
    assert series["chart"][-1]["day"] == TODAY.isoformat()


def test_key_series_refuses_a_key_of_another_workspace(workspace, usage_data):
    other = WorkspaceFactory(name="Other")
    with pytest.raises(NotFound):
        usage_series_for_key(workspace=other, api_key=usage_data["main"])


def test_key_chart_fragment_renders_chart_data_and_table(workspace, usage_data):
    series = usage_series_for_key(workspace=workspace, api_key=usage_data["main"])
    html = render_to_string("apikeys/usage_key_chart.html", {"usage_key_series": series})
    assert 'id="usage-key-series"' in html
    assert 'id="usage-key-table"' in html
    assert "3 requests" in html
    assert "style=" not in html


# ---------------------------------------------------------------------------- isolation


@pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN, Role.DEVELOPER, Role.VIEWER])
@pytest.mark.parametrize("url_name", ["page", "csv", "api"])
def test_every_role_may_see_usage(client, workspace, usage_data, role, url_name):
    member = workspace.created_by if role == Role.OWNER else add_member(workspace, role=role).user
    client.force_login(member)
    response = client.get(_urls(workspace)[url_name])
    assert response.status_code == 200
    body = (
        b"".join(response.streaming_content) if response.streaming else response.content
    ).decode()
    assert usage_data["main"].public_id in body or url_name == "api"


@pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN, Role.DEVELOPER, Role.VIEWER])
@pytest.mark.parametrize("url_name", ["page", "csv", "api"])
def test_members_of_another_workspace_get_404_and_see_nothing(
    client, workspace, usage_data, role, url_name
):
    elsewhere = WorkspaceFactory(name="Elsewhere")
    outsider = elsewhere.created_by if role == Role.OWNER else add_member(elsewhere, role=role).user
    own_key = make_key(elsewhere, name="Outsider key", actor=elsewhere.created_by)
    usage_records_ingest(events=[usage_event(own_key, request_id="own", model="own-model")])
    client.force_login(outsider)
    response = client.get(_urls(workspace)[url_name], {"key": usage_data["main"].public_id})
    assert response.status_code == 404
    body = response.content.decode()
    for secret in (usage_data["main"].public_id, "large-1", "Main"):
        assert secret not in body
    # Their own workspace still works and shows only their own usage.
    own = client.get(_urls(elsewhere)["page"])
    assert own.status_code == 200
    assert own.context["totals"]["requests"] == 1
    assert usage_data["main"].public_id not in own.content.decode()


@pytest.mark.parametrize("url_name", ["page", "csv"])
def test_anonymous_visitors_are_sent_to_login(client, workspace, url_name):
    response = client.get(_urls(workspace)[url_name])
    assert response.status_code == 302
    assert reverse("account_login") in response["Location"]


def test_nonexistent_workspace_is_404(client, user):
    client.force_login(user)
    missing = "00000000-0000-0000-0000-000000000000"
    assert client.get(f"/w/{missing}/usage/").status_code == 404
    assert client.get(f"/w/{missing}/usage/export.csv").status_code == 404
    assert client.get("/w/not-a-uuid/usage/").status_code == 404


def test_management_key_of_one_workspace_cannot_read_another(client, workspace, usage_data):
    elsewhere = WorkspaceFactory(name="Elsewhere")
    _key, full_key = api_key_create(
        workspace=elsewhere,
        actor=elsewhere.created_by,
        name="Automation",
        environment=Environment.DEVELOPMENT,
        scopes=["usage.read"],
    )
    auth = {"HTTP_AUTHORIZATION": f"Bearer {full_key}"}
    response = client.get(_urls(workspace)["api"], **auth)
    assert response.status_code == 404
    assert usage_data["main"].public_id not in response.content.decode()
    assert client.get(_urls(elsewhere)["api"], **auth).status_code == 200


def _more_usage(workspace, keys: int, events: int):
    """Add `keys` keys and `events` events spread over them, ten days and four models."""
    made = [make_key(workspace, name=f"Extra {i:03d}") for i in range(keys)]
    usage_records_ingest(
        events=[
            usage_event(
                made[i % keys],
                request_id=f"more-{i}",
                occurred_at=NOW - dt.timedelta(hours=(i * 7) % 240),
                model=f"model-{i % 4}",
            )
            for i in range(events)
        ],
        max_age_days=12,
    )


def _queries(client, url, params=None) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url, params or {}).status_code == 200
    return [query["sql"] for query in captured.captured_queries]


def test_usage_page_and_api_cost_the_same_with_more_keys_and_usage(
    client, user, workspace, usage_data
):
    client.force_login(user)
    urls = _urls(workspace)
    requests = [
        (urls["page"], {}),
        (urls["page"], {"key": usage_data["main"].public_id}),
        (urls["page"], {"model": "large-1", "from": "2026-03-01"}),
        (urls["api"], {}),
        (urls["api"], {"group_by": "key"}),
        (urls["api"], {"group_by": "model"}),
    ]
    client.get(urls["page"])  # the first request of a session also records the session
    few = [_queries(client, url, params) for url, params in requests]
    _more_usage(workspace, keys=60, events=900)
    many = [_queries(client, url, params) for url, params in requests]
    assert [len(queries) for queries in many] == [len(queries) for queries in few]
    # Every figure comes from the rollups: no page reads the raw usage records.
    assert not [sql for queries in many for sql in queries if "apikeys_usagerecord" in sql]
    # The page reads one page of keys without counting them (the API's pages carry a count).
    assert not [sql for queries in many[:3] for sql in queries if "COUNT(" in sql.upper()]


def test_usage_page_lists_keys_by_name_a_page_at_a_time(client, user, workspace, usage_data):
    client.force_login(user)
    _more_usage(workspace, keys=30, events=60)
    first = client.get(_urls(workspace)["page"], {"model": "large-1"}).context
    assert [row["key_name"] for row in first["by_key"]][:3] == [
        "=HYPERLINK(1)",
        "Extra 000",
        "Extra 001",
    ]
    assert len(first["by_key"]) == KEYS_PAGE_SIZE and first["keys_page"].has_next()
    second = client.get(_urls(workspace)["page"], {"model": "large-1", "page": "2"}).context
    assert [row["key_name"] for row in second["by_key"]][-1] == "Main"
    assert second["by_key"][-1]["requests"] == 3
    # Totals cover every key, not just the page shown.
    assert first["totals"] == second["totals"]


def test_usage_page_refuses_a_key_id_of_another_workspace(client, user, workspace, usage_data):
    client.force_login(user)
    stranger = make_key(WorkspaceFactory(name="Elsewhere"))
    response = client.get(_urls(workspace)["page"], {"key": stranger.public_id})
    assert response.status_code == 400
    assert "key" in response.context["form"].errors
