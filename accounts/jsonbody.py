"""Parse untrusted JSON bodies with bounds on depth, numbers and characters.

`json.loads` recurses once per nesting level, so a body of 100,000 `[` raises
RecursionError (a server error) long before any validation runs. The depth is checked
first, by a linear scan that skips string contents, so hostile nesting never reaches
the parser. Values nobody sends on purpose are refused too: non-finite numbers
(`1e999999`, `NaN`), integers too long to convert, and strings holding NUL or a lone
surrogate, which PostgreSQL and Redis cannot store.

Every JSON body goes through `loads`: the REST parser (`console.api.JSONParser`) and
the plain views that read their own body (the gateway's verify endpoint).
"""

from __future__ import annotations

import json
import math
import re

from django.conf import settings

DEFAULT_MAX_DEPTH = 32

# Where nesting can change: a bracket, or the start of a string whose contents are skipped.
_STRUCTURE = re.compile(r'[\[\]{}"]')
# The rest of a string after its opening quote (escapes included), in one linear match.
_STRING_REST = re.compile(r'[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)


class InvalidJSON(ValueError):
    """The body is not JSON the console accepts; the message says why, for the client."""


def max_depth() -> int:
    """Return the deepest nesting a JSON body may have (setting `JSON_MAX_DEPTH`)."""
    return getattr(settings, "JSON_MAX_DEPTH", DEFAULT_MAX_DEPTH)


def nesting_exceeds(text: str, limit: int) -> bool:
    """Tell whether arrays and objects in `text` nest deeper than `limit`.

    Brackets inside strings do not count. The scan stops at the first level past the
    limit, and at an unterminated string (the parser refuses that text anyway).
    """
    depth = 0
    position = 0
    while match := _STRUCTURE.search(text, position):
        char = match.group()
        if char == '"':
            rest = _STRING_REST.match(text, match.end())
            if rest is None:
                return False
            position = rest.end()
            continue
        if char in "[{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
        position = match.end()
    return False


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise InvalidJSON("Numbers must be finite.")
    return value


def _refuse_constant(name: str):
    raise InvalidJSON(f"{name} is not a JSON number.")


def _check_strings(value) -> None:
    """Refuse strings (keys included) that hold NUL or a lone surrogate."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise InvalidJSON("Text must not contain NUL characters.")
            if not item.isascii():
                try:
                    item.encode("utf-8")
                except UnicodeEncodeError:
                    raise InvalidJSON("Text must not contain lone surrogates.") from None
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def loads(body: bytes | str, *, depth: int | None = None):
    """Parse a JSON body, or raise InvalidJSON with a message fit for the client."""
    if isinstance(body, bytes | bytearray):
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidJSON("The body must be UTF-8 encoded JSON.") from None
    else:
        text = body
    limit = max_depth() if depth is None else depth
    if nesting_exceeds(text, limit):
        raise InvalidJSON(f"JSON nests at most {limit} levels deep.")
    try:
        value = json.loads(text, parse_float=_finite_float, parse_constant=_refuse_constant)
    except InvalidJSON:
        raise
    except RecursionError:
        # Only reachable with a JSON_MAX_DEPTH near the interpreter's own limit.
        raise InvalidJSON("The JSON nests too deep.") from None
    except ValueError as exc:
        # Also integers longer than the interpreter converts (sys.get_int_max_str_digits).
        raise InvalidJSON(f"The body is not valid JSON: {_reason(exc)}") from None
    _check_strings(value)
    return value


def _reason(exc: ValueError) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} (character {exc.pos})."
    return "a number is too long."
