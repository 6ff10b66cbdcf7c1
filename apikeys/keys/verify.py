"""`POST /api/v1/keys/verify`: the gateway asks whether a key may make a request.

A plain Django view on purpose: it is called on every model request, so it skips DRF's
request wrapping, content negotiation, authentication classes and serializers and
does only what verify needs (gateway token, a small JSON body, `verification.verify`).

Request: `{"key": "...", "required_scope": "inference", "client_ip": "203.0.113.7",
"max_tokens": 1024, "estimated_tokens": 1500}` (all but `key` optional).
Answer 200 with `verification.VerifyResult.as_dict()` for every verdict; 400 for a
body that is not such an object (a field it does not name included); 401 for a missing
or wrong gateway token.
"""

from __future__ import annotations

import ipaddress
import json

from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt

from accounts import jsonbody
from accounts.rest_input import UNKNOWN_FIELD
from apikeys.keys.gateway_auth import gateway_token_from_header, gateway_token_is_valid
from apikeys.keys.scopes import ALL_SCOPES
from apikeys.keys.verification import verify

MAX_BODY_BYTES = 4096
MAX_TOKENS_CEILING = 2**31 - 1
_FIELDS = frozenset({"key", "required_scope", "client_ip", "max_tokens", "estimated_tokens"})
_JSON = "application/json"


def _error(status: int, code: str, message: str, fields: dict | None = None) -> HttpResponse:
    body = {"error": {"code": code, "message": message}}
    if fields:
        body["error"]["fields"] = fields
    response = HttpResponse(json.dumps(body), status=status, content_type=_JSON)
    response["Cache-Control"] = "no-store"
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="gateway"'
    return response


def _int_or_none(data: dict, name: str, errors: dict, *, default=None):
    value = data.get(name, default)
    if value is None:
        return default
    if type(value) is not int or not 0 <= value <= MAX_TOKENS_CEILING:
        errors[name] = [f"A whole number between 0 and {MAX_TOKENS_CEILING}."]
        return default
    return value


@csrf_exempt
def verify_endpoint(request):
    """Answer the gateway's question about one key."""
    if request.method != "POST":
        response = _error(405, "method_not_allowed", "Use POST.")
        response["Allow"] = "POST"
        return response
    token = gateway_token_from_header(request.META.get("HTTP_AUTHORIZATION"))
    if token is None or not gateway_token_is_valid(token):
        return _error(401, "not_authenticated", "A valid gateway token is required.")
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > MAX_BODY_BYTES:
        return _error(413, "too_large", f"At most {MAX_BODY_BYTES} bytes.")
    try:
        data = jsonbody.loads(request.body)
    except jsonbody.InvalidJSON as exc:
        return _error(400, "invalid", f"The body must be a JSON object. {exc}")
    if not isinstance(data, dict):
        return _error(400, "invalid", "The body must be a JSON object.")

    # Like every other endpoint, a field the schema does not declare is refused.
    errors: dict = {name: [UNKNOWN_FIELD] for name in sorted(data.keys() - _FIELDS)}
    key = data.get("key")
    if not isinstance(key, str) or not key:
        errors["key"] = ["This field is required."]
    scope = data.get("required_scope")
    if scope is not None and (not isinstance(scope, str) or scope not in ALL_SCOPES):
        errors["required_scope"] = ["Unknown scope."]
    client_ip = data.get("client_ip")
    if client_ip is not None:
        try:
            # ip_address() also takes integers and IPv6 zones ("%eth0"); neither is a
            # client's address.
            if not isinstance(client_ip, str) or len(client_ip) > 64 or "%" in client_ip:
                raise ValueError(client_ip)
            client_ip = str(ipaddress.ip_address(client_ip))
        except ValueError:
            errors["client_ip"] = ["An IPv4 or IPv6 address."]
    max_tokens = _int_or_none(data, "max_tokens", errors)
    estimated = _int_or_none(data, "estimated_tokens", errors, default=0)
    if errors:
        return _error(400, "invalid", "The request is not valid.", errors)

    result = verify(
        key,
        required_scope=scope,
        client_ip=client_ip,
        max_tokens=max_tokens,
        estimated_tokens=estimated,
    )
    response = HttpResponse(result.as_json(), content_type=_JSON)
    response["Cache-Control"] = "no-store"
    if result.retry_after is not None:
        response["Retry-After"] = str(result.retry_after)
    return response


def document_verify_endpoint(result, generator, request, public):
    """Add this endpoint to the OpenAPI schema (a drf-spectacular postprocessing hook)."""
    count = {"type": "integer", "minimum": 0, "maximum": MAX_TOKENS_CEILING}
    nullable_count = {"type": "integer", "minimum": 0, "nullable": True}
    request_schema = {
        "type": "object",
        "properties": {
            "key": {"type": "string", "minLength": 1, "description": "The full API key."},
            "required_scope": {
                "type": "string",
                "enum": [*sorted(ALL_SCOPES), None],
                "nullable": True,
            },
            "client_ip": {
                "type": "string",
                "anyOf": [{"format": "ipv4"}, {"format": "ipv6"}],
                "maxLength": 64,
                "nullable": True,
            },
            "max_tokens": {**count, "nullable": True},
            "estimated_tokens": {**count, "nullable": True},
        },
        "required": ["key"],
        "additionalProperties": False,
    }
    answer_schema = {
        "type": "object",
        "properties": {
            "valid": {"type": "boolean"},
            "code": {"type": "string", "description": '"valid", or why the key was refused.'},
            "retry_after": {"type": "integer", "description": "With code rate_limited."},
            "key_id": {"type": "string"},
            "workspace_id": {"type": "string", "format": "uuid"},
            "environment": {"type": "string"},
            "scopes": {"type": "array", "items": {"type": "string"}},
            "limits": {
                "type": "object",
                "properties": {
                    name: nullable_count
                    for name in (
                        "max_tokens_per_request",
                        "requests_per_minute",
                        "tokens_per_minute",
                        "monthly_token_budget",
                    )
                },
            },
            "remaining": {
                "type": "object",
                "properties": {
                    name: nullable_count
                    for name in ("requests", "tokens", "budget_tokens", "window_reset_seconds")
                },
            },
            "data_handling": {
                "type": "object",
                "properties": {
                    "zero_data_retention": {"type": "boolean"},
                    "training_opt_out": {"type": "boolean"},
                },
            },
        },
        "required": ["valid", "code"],
    }
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    result.setdefault("paths", {})["/api/v1/keys/verify"] = {
        "post": {
            "operationId": "api_keys_verify",
            "summary": "Verify a key for one model request (gateway only)",
            "description": __doc__.split("\n\n", 1)[1],
            "tags": ["v1"],
            "security": [{"gatewayToken": []}],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": request_schema}},
            },
            "responses": {
                "200": {
                    "description": "The verdict, valid or not.",
                    "content": {"application/json": {"schema": answer_schema}},
                },
                "400": {"description": "The body is not such an object.", "content": error},
                "401": {"description": "Missing or wrong gateway token.", "content": error},
                "405": {"description": "Only POST.", "content": error},
                "413": {"description": f"Over {MAX_BODY_BYTES} bytes.", "content": error},
            },
        }
    }
    return result
