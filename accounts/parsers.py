"""The REST parser: DRF's JSON parser with the console's bounds.

Kept apart from `accounts.rest`: DRF reads DEFAULT_PARSER_CLASSES while `rest_framework.views`
is being imported, so this module must not import that one.
"""

from django.conf import settings
from rest_framework import exceptions, status
from rest_framework.parsers import JSONParser as DRFJSONParser

from accounts import jsonbody


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "too_large"


class JSONParser(DRFJSONParser):
    """DRF's JSON parser with the console's bounds (see `accounts.jsonbody`).

    The body is read up to DATA_UPLOAD_MAX_MEMORY_SIZE (DRF reads the raw stream, which
    Django's own size check never sees), then parsed with a depth limit; both refusals
    answer in the one error format (413 and 400).
    """

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        body = stream.read() if limit is None else stream.read(limit + 1)
        if limit is not None and len(body) > limit:
            raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
        encoding = (parser_context or {}).get("encoding") or settings.DEFAULT_CHARSET
        try:
            text = body.decode(encoding)
        except (LookupError, UnicodeDecodeError):
            raise exceptions.ParseError(f"The body must be {encoding} encoded JSON.") from None
        try:
            return jsonbody.loads(text)
        except jsonbody.InvalidJSON as exc:
            raise exceptions.ParseError(str(exc)) from None
