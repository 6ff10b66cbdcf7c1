"""Plain tests of the API's contract: each answer a generated request once found wrong.

They run in-process and fail by name; tests/api/test_schema_fuzz.py searches for more.
"""

from __future__ import annotations

import json

import pytest
from django.conf import settings as django_settings
from rest_framework.test import APIClient

from accounts.rest import Pagination
from tests.api.support import World, database_fingerprint


@pytest.fixture
def world(db):
    # In-process tests never run the on-commit deliveries; the address is never reached.
    return World(webhook_url="http://127.0.0.1:9/hooks")


@pytest.fixture
def owner_api(world):
    client = APIClient()
    client.force_login(world.owner)
    return client


def gateway_post(client, url, body):
    return client.post(
        url,
        data=json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {django_settings.GATEWAY_TOKENS[0]}",
    )


def assert_refused(response, status: int = 400) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"} and {"code", "message"} <= set(body["error"])
    return body["error"]


@pytest.mark.parametrize("suffix", ["", "invitations/", "invitations/{invitation}/resend/"])
def test_options_answers_without_a_server_error(owner_api, world, suffix):
    url = f"/api/v1/workspaces/{world.workspace.pk}/{suffix}".format(invitation=world.invitation.pk)
    response = owner_api.options(url)
    assert response.status_code == 200
    assert "actions" not in response.json()


@pytest.mark.parametrize(
    "path",
    ["/api/v1/nowhere/", "/api/v1/workspaces/not-a-uuid/", "/api/v1/workspaces/1/members/x/"],
)
def test_unknown_api_urls_answer_404_in_the_error_format(owner_api, path):
    error = assert_refused(owner_api.get(path), 404)
    assert error["code"] == "not_found"


def test_unknown_page_urls_still_answer_an_html_404(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"page_size": "null"}, "page_size"),
        ({"page_size": "0"}, "page_size"),
        ({"page_size": "201"}, "page_size"),
        ({"page_size": "9" * 30}, "page_size"),
        ({"page": "0"}, "page"),
        ({"page": "-1"}, "page"),
        ({"page": "²"}, "page"),
    ],
)
def test_malformed_page_parameters_answer_400(owner_api, query, field):
    error = assert_refused(owner_api.get("/api/v1/workspaces/", query))
    assert list(error["fields"]) == [field]


def test_valid_page_parameters_still_page(owner_api):
    body = owner_api.get("/api/v1/workspaces/", {"page": "1", "page_size": "200"}).json()
    assert body["count"] == 1


def test_nested_field_errors_are_flat_lists_of_messages(owner_api, world):
    before = database_fingerprint()
    response = owner_api.post(
        f"/api/v1/workspaces/{world.workspace.pk}/keys/",
        {
            "name": "k",
            "environment": "development",
            "scopes": ["inference"],
            "allowed_ips": [None, ["x"]],
        },
        format="json",
    )
    fields = assert_refused(response)["fields"]
    assert set(fields) == {"allowed_ips.0", "allowed_ips.1"}
    assert all(isinstance(m, str) for messages in fields.values() for m in messages)
    assert database_fingerprint() == before


def _usage_event(world, **changes):
    return {
        "request_id": "req-1",
        "key_id": world.api_key.public_id,
        "occurred_at": "2030-01-01T00:00:00Z",
        "model": "m",
        "input_tokens": 1,
        "output_tokens": 1,
        "status": 200,
        "latency_ms": 1,
        **changes,
    }


@pytest.mark.parametrize(
    ("field", "value"),
    [("moderation", {}), ("moderation", []), ("client_ip", False), ("client_ip", 3232235777)],
)
def test_usage_ingest_refuses_non_string_moderation_and_client_ip(client, world, field, value):
    before = database_fingerprint()
    response = gateway_post(
        client, "/api/v1/usage", {"events": [_usage_event(world, **{field: value})]}
    )
    assert f"events.0.{field}" in assert_refused(response)["fields"]
    assert database_fingerprint() == before


@pytest.mark.parametrize("scope", [[], {}, ["inference"]])
def test_verify_refuses_a_scope_that_is_not_a_string(client, scope):
    response = gateway_post(client, "/api/v1/keys/verify", {"key": "x", "required_scope": scope})
    assert "required_scope" in assert_refused(response)["fields"]


@pytest.mark.parametrize("visitor_id", [False, 0, 12345])
def test_consent_refuses_a_visitor_id_that_is_not_a_uuid_string(owner_api, visitor_id):
    before = database_fingerprint()
    response = owner_api.post(
        "/api/v1/privacy/consent/",
        {"choice": "reject_all", "visitor_id": visitor_id},
        format="json",
    )
    assert "visitor_id" in assert_refused(response)["fields"]
    assert database_fingerprint() == before


def test_a_query_string_with_too_many_fields_answers_400_in_the_error_format(owner_api, world):
    query = "&".join(f"f{n}=1" for n in range(django_settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1))
    response = owner_api.get(f"/api/v1/workspaces/{world.workspace.pk}/audit-events/?{query}")
    assert assert_refused(response)["code"] == "bad_request"


# ---------------------------------------------------------------------------- strict input
# The schema says `additionalProperties: false` and one JSON type per field; so does the
# server, for every body, and it changes nothing when it refuses.


def assert_refused_unchanged(response, fields: dict, before: dict) -> None:
    error = assert_refused(response)
    assert error["fields"] == fields
    assert database_fingerprint() == before


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"name": "W", "colour": "red"}, {"colour": ["Unknown field."]}),
        ({"name": 5}, {"name": ["Must be a string."]}),
        ({"name": ["W"]}, {"name": ["Must be a string."]}),
        ({"name": True}, {"name": ["Must be a string."]}),
    ],
)
def test_a_workspace_body_is_exactly_what_the_schema_says(owner_api, body, fields):
    before = database_fingerprint()
    response = owner_api.post("/api/v1/workspaces/", body, format="json")
    assert_refused_unchanged(response, fields, before)


@pytest.mark.parametrize("value", [0, 1, "true", "false", "0", None, [], {}])
def test_booleans_are_only_true_or_false(owner_api, world, value):
    before = database_fingerprint()
    url = f"/api/v1/workspaces/{world.workspace.pk}/"
    response = owner_api.patch(url, {"training_opt_out": value}, format="json")
    assert assert_refused(response)["fields"].keys() == {"training_opt_out"}
    assert database_fingerprint() == before
    for url in ("/api/v1/privacy/settings/",):
        response = owner_api.patch(url, {"marketing_emails": value}, format="json")
        assert assert_refused(response)["fields"].keys() == {"marketing_emails"}
    assert database_fingerprint() == before


def test_real_booleans_still_change_settings(owner_api, world):
    url = f"/api/v1/workspaces/{world.workspace.pk}/"
    response = owner_api.patch(url, {"training_opt_out": True}, format="json")
    assert response.status_code == 200
    assert response.json()["training_opt_out"] is True


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"user_id": "5"}, {"user_id": ["Must be a whole number."]}),
        ({"user_id": True}, {"user_id": ["Must be a whole number."]}),
        ({"user_id": 5.5}, {"user_id": ["Must be a whole number."]}),
        ({"user_id": 5, "keep_role": 1}, {"keep_role": ["Must be a string."]}),
    ],
)
def test_whole_numbers_are_json_numbers(owner_api, world, body, fields):
    before = database_fingerprint()
    url = f"/api/v1/workspaces/{world.workspace.pk}/transfer-ownership/"
    assert_refused_unchanged(owner_api.post(url, body, format="json"), fields, before)


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        ({"scopes": []}, {"scopes": ["This list may not be empty."]}),
        ({"scopes": [1]}, {"scopes.0": ["Must be a string."]}),
        ({"scopes": "inference"}, {"scopes": ["Must be a list."]}),
        ({"allowed_ips": [10]}, {"allowed_ips.0": ["Must be a string."]}),
        ({"requests_per_minute": "60"}, {"requests_per_minute": ["Must be a whole number."]}),
        ({"environment": 1}, {"environment": ["Must be a string."]}),
        ({"owner": "me"}, {"owner": ["Unknown field."]}),
    ],
)
def test_a_key_body_is_exactly_what_the_schema_says(owner_api, world, changes, fields):
    before = database_fingerprint()
    body = {"name": "k", "environment": "development", "scopes": ["inference"], **changes}
    url = f"/api/v1/workspaces/{world.workspace.pk}/keys/"
    assert_refused_unchanged(owner_api.post(url, body, format="json"), fields, before)


def test_a_key_update_refuses_unknown_fields_and_changes_nothing(owner_api, world):
    before = database_fingerprint()
    url = f"/api/v1/workspaces/{world.workspace.pk}/keys/{world.api_key.public_id}/"
    response = owner_api.patch(url, {"name": "renamed", "status": "active"}, format="json")
    assert_refused_unchanged(response, {"status": ["Unknown field."]}, before)


@pytest.mark.parametrize(
    ("url", "body", "field"),
    [
        ("/api/v1/keys/report-leak", {"key": "cnsl_x", "source": 7}, "source"),
        (
            "/api/v1/privacy/requests/",
            {"request_type": "access", "jurisdiction": "eea_uk", "details": 1},
            "details",
        ),
        ("/api/v1/privacy/consent/", {"choice": "custom", "marketing": 1}, "marketing"),
        ("/api/v1/me/", {"name": 42}, "name"),
    ],
)
def test_every_app_refuses_a_value_of_another_type(owner_api, url, body, field):
    before = database_fingerprint()
    method = owner_api.patch if url == "/api/v1/me/" else owner_api.post
    response = method(url, body, format="json")
    assert field in assert_refused(response)["fields"]
    assert database_fingerprint() == before


def test_a_usage_event_with_an_unknown_field_refuses_the_batch(client, world):
    before = database_fingerprint()
    response = gateway_post(
        client, "/api/v1/usage", {"events": [_usage_event(world, prompt="secret")]}
    )
    assert assert_refused(response)["fields"] == {"events.0.prompt": ["Unknown field."]}
    response = gateway_post(client, "/api/v1/usage", {"events": [_usage_event(world)], "x": 1})
    assert assert_refused(response)["fields"] == {"x": ["Unknown field."]}
    assert database_fingerprint() == before


# ---------------------------------------------------------------------------- filters and pages


@pytest.mark.parametrize(
    "query",
    [
        {"status": "nonsense"},
        {"environment": "staging"},
        {"sort": "random"},
        {"status": ""},
        {"colour": "red"},
    ],
)
def test_a_key_list_filter_it_does_not_know_answers_400(owner_api, world, query):
    response = owner_api.get(f"/api/v1/workspaces/{world.workspace.pk}/keys/", query)
    assert list(assert_refused(response)["fields"]) == list(query)


def test_known_key_list_filters_still_filter(owner_api, world):
    url = f"/api/v1/workspaces/{world.workspace.pk}/keys/"
    assert owner_api.get(url, {"status": "active"}).json()["count"] == 2
    assert owner_api.get(url, {"status": "revoked"}).json()["count"] == 0


def test_page_numbers_have_a_documented_maximum(owner_api):
    maximum = Pagination.max_page_number
    error = assert_refused(owner_api.get("/api/v1/workspaces/", {"page": str(maximum + 1)}))
    assert error["fields"] == {"page": [f"A whole number between 1 and {maximum}."]}
    # Within the bounds, a page past the last is missing.
    assert owner_api.get("/api/v1/workspaces/", {"page": str(maximum)}).status_code == 404


def test_the_usage_range_is_at_most_366_days(owner_api, world):
    url = f"/api/v1/workspaces/{world.workspace.pk}/usage/"
    ok = owner_api.get(url, {"from": "2024-01-01", "to": "2024-12-31"})
    assert ok.status_code == 200
    error = assert_refused(owner_api.get(url, {"from": "2024-01-01", "to": "2025-01-01"}))
    assert error["fields"] == {"from": ["The range spans at most 366 days."]}


# ---------------------------------------------------------------------------- the schema says so


@pytest.fixture
def api_schema(client):
    return client.get("/api/schema/", {"format": "json"}).json()


def _request_components(api_schema):
    for path, operations in api_schema["paths"].items():
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {})
            for media in content.values():
                ref = media["schema"].get("$ref")
                component = (
                    api_schema["components"]["schemas"][ref.split("/")[-1]]
                    if ref
                    else media["schema"]
                )
                yield f"{method} {path}", component


def test_every_request_body_documents_that_unknown_fields_are_refused(api_schema):
    components = list(_request_components(api_schema))
    assert len(components) > 10
    for label, component in components:
        assert component.get("additionalProperties") is False, label


PATCHES = [
    "/api/v1/privacy/settings/",
    "/api/v1/workspaces/{workspace}/",
    "/api/v1/workspaces/{workspace}/keys/{key}/",
]


@pytest.mark.parametrize("path", PATCHES)
@pytest.mark.parametrize("body", [{}, None])
def test_a_patch_that_names_no_field_answers_400_and_changes_nothing(owner_api, world, path, body):
    url = path.format(workspace=world.workspace.pk, key=world.api_key.public_id)
    before = database_fingerprint()
    kwargs = {} if body is None else {"data": body, "format": "json"}
    response = owner_api.patch(url, **kwargs)
    error = assert_refused(response)
    assert error["fields"] == {"non_field_errors": ["Nothing to change: send at least one field."]}
    assert database_fingerprint() == before


def test_every_patch_body_is_required_and_names_at_least_one_field(api_schema):
    patches = {
        path: operations["patch"]
        for path, operations in api_schema["paths"].items()
        if "patch" in operations
    }
    assert len(patches) >= len(PATCHES)
    components = dict(_request_components(api_schema))
    for path, operation in patches.items():
        assert operation["requestBody"].get("required") is True, path
        body = components[f"patch {path}"]
        assert body.get("required") or body.get("minProperties") == 1, path


def test_the_schema_documents_the_limits(api_schema):
    components = api_schema["components"]["schemas"]
    assert components["ApiKeyCreateInputRequest"]["properties"]["scopes"]["minItems"] == 1
    usage = api_schema["paths"]["/api/v1/workspaces/{workspace_id}/usage/"]["get"]
    start = next(p for p in usage["parameters"] if p["name"] == "from")
    assert "366 days" in start["description"]
    assert "366 days" in usage["responses"]["400"]["description"]
    keys = api_schema["paths"]["/api/v1/workspaces/{workspace_id}/keys/"]["get"]
    parameters = {p["name"]: p["schema"] for p in keys["parameters"]}
    assert parameters["page"]["maximum"] == Pagination.max_page_number
    assert parameters["status"]["enum"] == ["active", "expired", "revoked"]
    assert "400" in keys["responses"]
    transfer = api_schema["paths"]["/api/v1/workspaces/{workspace_id}/transfer-ownership/"]
    assert "409" in transfer["post"]["responses"]
    member = api_schema["paths"]["/api/v1/workspaces/{workspace_id}/members/{user_id}/"]
    body = member["patch"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert components[body.split("/")[-1]]["required"] == ["role"]
