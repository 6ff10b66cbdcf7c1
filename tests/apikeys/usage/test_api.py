"""REST usage endpoints: gateway ingestion and the workspace usage read."""

import datetime as dt
import json

import pytest
import time_machine
from django.test import override_settings
from django.urls import reverse

from accounts.permissions import Role
from apikeys.usage.models import UsageRecord
from apikeys.usage.services import MAX_BATCH_EVENTS, usage_records_ingest, usage_rollup_recent
from tests.apikeys.usage_support import (
    GATEWAY_AUTH,
    NOW,
    TODAY,
    event,
    make_key,
    usage_event,
)
from tests.factories import WorkspaceFactory, add_member

pytestmark = pytest.mark.django_db

INGEST_URL = "/api/v1/usage"


@pytest.fixture(autouse=True)
def _frozen_now():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def api_key(workspace):
    return make_key(workspace)


def post_batch(client, events, **headers):
    return client.post(
        INGEST_URL,
        data=json.dumps({"events": events}),
        content_type="application/json",
        **(GATEWAY_AUTH if headers.get("auth", True) else {}),
        **{k: v for k, v in headers.items() if k != "auth"},
    )


# ---------------------------------------------------------------------------- ingestion


def test_ingest_accepts_a_batch_and_answers_counts(client, api_key):
    response = post_batch(client, [event(api_key) for _ in range(3)])
    assert response.status_code == 200
    assert response.json() == {
        "accepted": 3,
        "duplicates": 0,
        "rejected": 0,
        "rejected_events": [],
    }
    assert UsageRecord.objects.filter(api_key=api_key).count() == 3


def test_replayed_batch_counts_duplicates_and_stores_nothing_new(client, api_key):
    events = [event(api_key) for _ in range(4)]
    post_batch(client, events)
    response = post_batch(client, events)
    assert response.json()["accepted"] == 0
    assert response.json()["duplicates"] == 4
    assert UsageRecord.objects.count() == 4


def test_unknown_keys_are_reported_back_and_not_stored(client, api_key):
    response = post_batch(client, [event(api_key), event("unknownKey01", request_id="lost")])
    body = response.json()
    assert response.status_code == 200
    assert (body["accepted"], body["rejected"]) == (1, 1)
    assert body["rejected_events"] == [
        {"index": 1, "request_id": "lost", "key_id": "unknownKey01", "reason": "unknown_key"}
    ]
    assert not UsageRecord.objects.filter(request_id="lost").exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("occurred_at", "yesterday"),
        ("occurred_at", "2026-03-15T12:00:00"),  # no time zone
        ("input_tokens", -1),
        ("input_tokens", "12"),
        ("output_tokens", True),
        ("status", 99),
        ("latency_ms", 2**31),
        ("moderation", "maybe"),
        ("client_ip", "300.1.1.1"),
        ("model", ""),
        ("model", "x" * 65),
        ("request_id", "has spaces"),
        ("key_id", None),
    ],
)
def test_one_malformed_event_refuses_the_whole_batch_naming_its_index(
    client, api_key, field, value
):
    events = [event(api_key), event(api_key), event(api_key, **{field: value})]
    response = post_batch(client, events)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_batch"
    assert "index 2" in error["message"]
    assert f"events.2.{field}" in error["fields"]
    assert not UsageRecord.objects.exists()


def test_a_missing_field_is_named(client, api_key):
    bad = event(api_key)
    del bad["status"]
    response = post_batch(client, [bad])
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"events.0.status": ["This field is required."]}


@pytest.mark.parametrize(
    "body",
    ['{"events": "nope"}', "[]", '{"events": []}', '{"events": [1]}', "{not json"],
)
def test_malformed_bodies_get_400_in_the_error_format(client, body):
    response = client.post(INGEST_URL, data=body, content_type="application/json", **GATEWAY_AUTH)
    assert response.status_code == 400
    assert set(response.json()["error"]) >= {"code", "message"}
    assert not UsageRecord.objects.exists()


def test_oversized_batch_is_refused_with_413(client, api_key):
    events = [event(api_key) for _ in range(MAX_BATCH_EVENTS + 1)]
    response = post_batch(client, events)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "batch_too_large"
    assert not UsageRecord.objects.exists()


def test_oversized_body_is_refused_before_parsing(client):
    body = '{"events": [' + ",".join(['{"pad": "' + "x" * 1000 + '"}'] * 2500) + "]}"
    response = client.post(INGEST_URL, data=body, content_type="application/json", **GATEWAY_AUTH)
    assert response.status_code == 413


def test_prompt_content_sent_by_mistake_is_refused_and_not_stored(client, api_key):
    response = post_batch(client, [event(api_key, request_id="p1", prompt="secret prompt text")])
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"events.0.prompt": ["Unknown field."]}
    assert not UsageRecord.objects.exists()


def test_zero_data_retention_workspace_gets_no_ip_stored(client, workspace, api_key):
    workspace.zero_data_retention = True
    workspace.save(update_fields=["zero_data_retention"])
    post_batch(client, [event(api_key, request_id="z1")])
    assert UsageRecord.objects.get(request_id="z1").client_ip is None


@pytest.mark.parametrize(
    "header",
    [None, "Bearer wrong-token", "Basic dGVzdC1nYXRld2F5LXRva2Vu", "Bearer", "test-gateway-token"],
)
def test_missing_or_wrong_gateway_token_gets_401_and_stores_nothing(client, api_key, header):
    headers = {"HTTP_AUTHORIZATION": header} if header else {}
    response = client.post(
        INGEST_URL,
        data=json.dumps({"events": [event(api_key)]}),
        content_type="application/json",
        **headers,
    )
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert "error" in response.json()
    assert not UsageRecord.objects.exists()


def test_a_logged_in_user_cannot_ingest(client, user, api_key):
    client.force_login(user)
    response = client.post(
        INGEST_URL, data=json.dumps({"events": [event(api_key)]}), content_type="application/json"
    )
    assert response.status_code == 401
    assert not UsageRecord.objects.exists()


@override_settings(GATEWAY_TOKENS=["old-token", "new-token"])
def test_every_configured_gateway_token_is_accepted_during_rotation(client, api_key):
    for token in ("old-token", "new-token"):
        response = client.post(
            INGEST_URL,
            data=json.dumps({"events": [event(api_key)]}),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )
        assert response.status_code == 200
    assert UsageRecord.objects.count() == 2


# ---------------------------------------------------------------------------- reading


def _usage_url(workspace):
    return reverse("api_workspace_usage", kwargs={"workspace_id": workspace.pk})


@pytest.fixture
def usage_data(workspace, api_key):
    """Yesterday (rolled up) and today (live) for two keys and two models."""
    other = make_key(workspace, name="Batch")
    yesterday = NOW - dt.timedelta(days=1)
    usage_records_ingest(
        events=[
            *[usage_event(api_key, request_id=f"y{i}", occurred_at=yesterday) for i in range(3)],
            usage_event(other, request_id="y-other", occurred_at=yesterday, model="small-1"),
            *[usage_event(api_key, request_id=f"t{i}", moderation="flagged") for i in range(2)],
        ]
    )
    usage_rollup_recent()
    return {"key": api_key, "other": other}


def test_usage_by_day_mixes_rollups_and_live_today(client, user, workspace, usage_data):
    client.force_login(user)
    response = client.get(_usage_url(workspace), {"from": "2026-03-13", "to": "2026-03-15"})
    assert response.status_code == 200
    results = response.json()["results"]
    assert [(r["day"], r["requests"], r["flagged"]) for r in results] == [
        ("2026-03-13", 0, 0),
        ("2026-03-14", 4, 0),
        ("2026-03-15", 2, 2),
    ]
    assert results[1]["input_tokens"] == 400
    assert response.json()["count"] == 3


def test_usage_defaults_to_the_last_30_days(client, user, workspace, usage_data):
    client.force_login(user)
    results = client.get(_usage_url(workspace)).json()["results"]
    assert results[0]["day"] == (TODAY - dt.timedelta(days=29)).isoformat()
    assert len(results) == 30  # the default page is larger than 30


def test_usage_by_key_and_by_model(client, user, workspace, usage_data):
    client.force_login(user)
    by_key = client.get(_usage_url(workspace), {"group_by": "key"}).json()["results"]
    assert [(r["key_id"], r["requests"]) for r in by_key] == [
        (usage_data["key"].public_id, 5),
        (usage_data["other"].public_id, 1),
    ]
    by_model = client.get(_usage_url(workspace), {"group_by": "model"}).json()["results"]
    assert [(r["model"], r["requests"]) for r in by_model] == [("large-1", 5), ("small-1", 1)]


def test_usage_filters_by_key_and_model(client, user, workspace, usage_data):
    client.force_login(user)
    params = {"group_by": "model", "key_id": usage_data["other"].public_id}
    results = client.get(_usage_url(workspace), params).json()["results"]
    assert [(r["model"], r["requests"]) for r in results] == [("small-1", 1)]
    results = client.get(_usage_url(workspace), {"model": "small-1", "group_by": "key"}).json()
    # Every key of the workspace by name, those without usage of that model as zeros.
    assert [(r["key_id"], r["requests"]) for r in results["results"]] == [
        (usage_data["key"].public_id, 0),
        (usage_data["other"].public_id, 1),
    ]


@pytest.mark.parametrize(
    "params",
    [
        {"from": "2026-03-15", "to": "2026-03-01"},
        {"from": "2024-01-01", "to": "2026-03-01"},
        {"from": "not-a-date"},
        {"group_by": "user"},
        {"key_id": ""},
        {"colour": "red"},
    ],
)
def test_bad_usage_filters_get_400(client, user, workspace, usage_data, params):
    client.force_login(user)
    response = client.get(_usage_url(workspace), params)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"


def test_a_foreign_key_id_filter_reveals_nothing(client, user, workspace, usage_data):
    foreign_key = make_key(WorkspaceFactory(name="Foreign"))
    client.force_login(user)
    response = client.get(_usage_url(workspace), {"key_id": foreign_key.public_id})
    # The same answer as for a key that never existed: missing.
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    unknown = client.get(_usage_url(workspace), {"key_id": "nosuchkey123"})
    assert (unknown.status_code, unknown.json()) == (404, response.json())


@pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN, Role.DEVELOPER, Role.VIEWER])
def test_every_role_reads_usage(client, workspace, usage_data, role):
    member = add_member(workspace, role=role).user if role != Role.OWNER else workspace.created_by
    client.force_login(member)
    response = client.get(_usage_url(workspace), {"group_by": "key"})
    assert response.status_code == 200
    assert sum(r["requests"] for r in response.json()["results"]) == 6


def test_foreign_workspace_answers_404_and_leaks_nothing(client, workspace, usage_data):
    outsider = WorkspaceFactory(name="Elsewhere").created_by
    client.force_login(outsider)
    response = client.get(_usage_url(workspace), {"group_by": "key"})
    assert response.status_code == 404
    assert usage_data["key"].public_id not in response.content.decode()
    missing = client.get(
        reverse(
            "api_workspace_usage", kwargs={"workspace_id": "00000000-0000-0000-0000-000000000000"}
        )
    )
    assert missing.status_code == 404
    assert missing.json() == response.json()


def test_anonymous_usage_read_is_refused(client, workspace, usage_data):
    response = client.get(_usage_url(workspace))
    assert response.status_code in (401, 403)
    assert usage_data["key"].public_id not in response.content.decode()


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"])
def test_extreme_timestamps_are_rejected_not_an_error(client, api_key, when):
    response = post_batch(client, [event(api_key, occurred_at=when)])
    assert response.status_code == 200
    assert response.json()["rejected_events"][0]["reason"] in ("too_old", "in_future")
    assert not UsageRecord.objects.exists()
