"""REST defaults shared by every endpoint: one error format and pagination.

Every error answers `{"error": {"code": ..., "message": ..., "fields": {...}}}`.
"""

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from accounts.errors import DomainError
from accounts.paging import page_without_count
from accounts.parsers import PayloadTooLarge

API_PREFIX = "/api/"


class Pagination(PageNumberPagination):
    """Pages of 50 by default; a page number or size that is not valid answers 400.

    Both bounds are in the schema; a page past the last answers 404.
    """

    page_size_query_param = "page_size"
    max_page_size = 200
    max_page_number = 1_000_000

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        return self._number(raw, self.page_size_query_param, self.max_page_size)

    def get_page_number(self, request, paginator):
        raw = request.query_params.get(self.page_query_param)
        if raw is None:
            return 1
        if raw == "last":
            return paginator.num_pages
        return self._number(raw, self.page_query_param, self.max_page_number)

    def _number(self, raw: str, name: str, maximum: int) -> int:
        value = int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 10 else 0
        if not 1 <= value <= maximum:
            raise exceptions.ValidationError({name: [f"A whole number between 1 and {maximum}."]})
        return value

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        maximum = {
            self.page_query_param: self.max_page_number,
            self.page_size_query_param: self.max_page_size,
        }
        for parameter in parameters:
            parameter["schema"]["minimum"] = 1
            parameter["schema"]["maximum"] = maximum[parameter["name"]]
        return parameters


class UncountedPagination(Pagination):
    """Pages of a list that grows without bound (audit events), without a `count`.

    Counting every matching row is the one cost of such a list that grows with it
    (100,000 audit events: 30 ms of a 35 ms answer). A page reads one row more than it
    holds to know whether another follows, so it costs the same with 50 rows or a
    million. The answer has `next`, `previous` and `results`; `page=last` is refused
    (there is no count to find it) and a page past the last answers 404, as before.
    """

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        page_size = self.get_page_size(request)
        raw = request.query_params.get(self.page_query_param)
        number = (
            1 if raw is None else self._number(raw, self.page_query_param, self.max_page_number)
        )
        self.page = page_without_count(queryset, str(number), page_size)
        if number > 1 and not self.page.object_list:
            raise exceptions.NotFound(self.invalid_page_message)
        return list(self.page.object_list)

    def get_paginated_response(self, data):
        return Response(
            {
                "next": self.get_next_link(),
                "previous": self.get_previous_link(),
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema):
        link = {"type": "string", "nullable": True, "format": "uri"}
        return {
            "type": "object",
            "required": ["next", "previous", "results"],
            "properties": {
                "next": {**link, "description": "The next page; null on the last page."},
                "previous": {**link, "description": "The previous page; null on the first."},
                "results": schema,
            },
        }


def page_not_found(request, exception):
    """Answer an unknown URL under /api/ in the one error format; pages get HTML."""
    if request.path.startswith(API_PREFIX):
        return JsonResponse(error_body("not_found", "Not found."), status=404)
    return defaults.page_not_found(request, exception)


def bad_request(request, exception):
    """Answer a request Django refuses before any view under /api/ in the error format."""
    if request.path.startswith(API_PREFIX):
        return JsonResponse(error_body("bad_request", "The request is not valid."), status=400)
    return defaults.bad_request(request, exception)


def error_body(code: str, message: str, fields: dict | None = None) -> dict:
    """Build the one error body every endpoint answers with."""
    body = {"error": {"code": code, "message": message}}
    if fields:
        body["error"]["fields"] = fields
    return body


def _field_errors(detail, prefix: str = "") -> dict[str, list[str]]:
    """Flatten DRF's nested error detail to `{"scopes.2": ["..."]}`: one list per field."""
    if isinstance(detail, dict):
        items = detail.items()
    elif isinstance(detail, list) and any(isinstance(item, dict | list) for item in detail):
        items = enumerate(detail)
    else:
        messages = detail if isinstance(detail, list) else [detail]
        return {prefix or "non_field_errors": [str(message) for message in messages]}
    fields: dict[str, list[str]] = {}
    for key, value in items:
        fields.update(_field_errors(value, f"{prefix}.{key}" if prefix else str(key)))
    return fields


def exception_handler(exc, context):
    """Translate every exception into the one error format."""
    if isinstance(exc, DomainError):
        return Response(
            error_body(exc.code, exc.message, exc.fields or None), status=exc.status_code
        )
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        )
    if isinstance(exc, RequestDataTooBig):
        # Django refused to read the body (it had been read before DRF's parser ran).
        exc = PayloadTooLarge()
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = error_body(
            "invalid", "The request is not valid.", _field_errors(exc.detail)
        )
    else:
        code = getattr(exc, "default_code", "error")
        if isinstance(exc.detail, dict | list):
            message = str(exc.default_detail)
        else:
            message = str(exc.detail)
        code = getattr(exc.detail, "code", None) or code
        response.data = error_body(str(code), message)
    if response.status_code == status.HTTP_429_TOO_MANY_REQUESTS and getattr(exc, "wait", None):
        response["Retry-After"] = str(int(exc.wait))
    return response


# ---------------------------------------------------------------------------- schema

ERROR_SCHEMA = {
    "type": "object",
    "description": "The one error body of every endpoint.",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "fields": {
                    "type": "object",
                    "additionalProperties": {"type": "array", "items": {"type": "string"}},
                },
            },
            "required": ["code", "message"],
        }
    },
    "required": ["error"],
}
_ERROR_DESCRIPTIONS = {
    "400": "The input is not valid.",
    "401": "Missing or wrong credentials.",
    "403": "Not signed in, or a rule refused.",
    "404": "Missing, or not yours to see.",
}


def document_errors(result, generator, request, public):
    """Document the error answers every operation can give, in the one error format.

    The exception handler is shared, so the answers are too: 400 wherever there is
    input, 401 or 403 wherever there are credentials, 404 wherever there is an id in
    the path or a page number. Codes a view documents keep their description; an
    error response without a body gets the error body.
    """
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("Error", ERROR_SCHEMA)
    content = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path, operations in result.get("paths", {}).items():
        for operation in operations.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            parameters = operation.get("parameters", [])
            codes = set()
            if "requestBody" in operation or any(p["in"] == "query" for p in parameters):
                codes.add("400")
            if "{" in path or any(p["name"] == "page" for p in parameters):
                codes.add("404")
            schemes = {name for item in operation.get("security", []) for name in item}
            if "gatewayToken" in schemes:
                codes.add("401")
            elif schemes:
                codes.add("403")
            responses = operation["responses"]
            for code in codes:
                responses.setdefault(code, {"description": _ERROR_DESCRIPTIONS[code]})
            for code, response in responses.items():
                if code.startswith("4") and "content" not in response:
                    response["content"] = content
    return result
