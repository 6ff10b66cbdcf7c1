"""The OpenAPI schema at /api/schema/: valid, complete, and honest about auth and errors."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command
from django.urls import URLPattern, URLResolver, get_resolver

API_PREFIX = "api/v1/"
_CONVERTER = re.compile(r"<(?:\w+:)?(\w+)>")


def _routes(patterns, prefix: str = ""):
    for entry in patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _routes(entry.url_patterns, route)
        elif isinstance(entry, URLPattern):
            yield route


def api_routes() -> set[str]:
    """Every /api/v1/ route the URL resolver knows, written as OpenAPI paths."""
    return {
        "/" + _CONVERTER.sub(r"{\1}", route)
        for route in _routes(get_resolver().url_patterns)
        if route.startswith(API_PREFIX)
    }


@pytest.fixture
def schema(client):
    response = client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def test_schema_generates_and_validates_without_warnings(tmp_path):
    out = tmp_path / "schema.yaml"
    # --fail-on-warn turns every generator warning or error into a failure.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    assert out.read_text().startswith("openapi: 3")


def test_schema_declares_the_session_cookie_and_the_bearer_api_key(schema):
    schemes = schema["components"]["securitySchemes"]
    assert schemes["cookieAuth"] == {"type": "apiKey", "in": "cookie", "name": "sessionid"}
    assert schemes["apiKey"]["type"] == "http"
    assert schemes["apiKey"]["scheme"] == "bearer"
    assert schemes["gatewayToken"]["scheme"] == "bearer"


def test_every_api_route_of_the_url_resolver_is_in_the_schema(schema):
    routes = api_routes()
    assert len(routes) > 20
    assert routes - set(schema["paths"]) == set()


def test_schema_lists_no_api_path_the_resolver_does_not_know(schema):
    assert set(schema["paths"]) - api_routes() == set()


def test_gateway_verify_endpoint_is_documented_with_the_gateway_token(schema):
    operation = schema["paths"]["/api/v1/keys/verify"]["post"]
    assert operation["security"] == [{"gatewayToken": []}]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["key"]
    assert {"200", "400", "401", "413"} <= set(operation["responses"])


def _operations(schema):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            yield path, method, operation


def test_every_error_response_has_the_one_error_body(schema):
    error = schema["components"]["schemas"]["Error"]
    assert error["required"] == ["error"]
    for path, method, operation in _operations(schema):
        for code, response in operation["responses"].items():
            if code.startswith("4"):
                ref = response["content"]["application/json"]["schema"]["$ref"]
                assert ref == "#/components/schemas/Error", (method, path, code)


def test_operations_document_the_errors_their_input_and_credentials_can_cause(schema):
    for path, method, operation in _operations(schema):
        responses = set(operation["responses"])
        if "{" in path:
            assert "404" in responses, (method, path)
        if "requestBody" in operation or any(
            p["in"] == "query" for p in operation.get("parameters", [])
        ):
            assert "400" in responses, (method, path)
        if operation.get("security") == [{"gatewayToken": []}]:
            assert "401" in responses, (method, path)


def test_list_endpoints_document_pages_with_bounds(schema):
    keys = schema["paths"]["/api/v1/workspaces/{workspace_id}/keys/"]["get"]
    parameters = {p["name"]: p["schema"] for p in keys["parameters"]}
    assert parameters["page"]["minimum"] == 1
    assert parameters["page_size"] == {"type": "integer", "minimum": 1, "maximum": 200}
    page = keys["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert page.endswith("/PaginatedApiKeyOutputList")
