"""Parse untrusted JSON bodies with bounds on depth, numbers and characters.

`json.loads` recurses once per nesting level, so a body of 100,000 `[` raises
RecursionError (a server error) long before any validation runs. The depth is checked
first, by a linear scan that skips string contents, so hostile nesting never reaches
the parser. Values nobody sends on purpose are refused too: non-finite numbers
(`1e999999`, `NaN`), integers too long to convert, and strings holding NUL or a lone
surrogate, which PostgreSQL and Redis cannot store.

Every JSON body goes through `loads`: the REST parser (`accounts.rest.JSONParser`) and
the plain views that read their own body (the gateway's verify endpoint).
"""

from __future__ import annotations

import json
import math
import re

from django.conf import settings

DEFAULT_MAX_DEPTH = 32

# A string, escapes included; an unterminated one runs to the end of the text, so every
# match attempt succeeds at once and the whole scan stays linear.
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*(?:"|\Z)', re.DOTALL)
_PLAIN_STRING = re.compile(r'"[^"]*(?:"|\Z)')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_ONE_KIND = str.maketrans("{}", "[]")
# NUL as JSON text writes it: \u0000 after an even number of backslashes.
_NUL = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")


class InvalidJSON(ValueError):
    """The body is not JSON the console accepts; the message says why, for the client."""


def max_depth() -> int:
    """Return the deepest nesting a JSON body may have (setting `JSON_MAX_DEPTH`)."""
    return getattr(settings, "JSON_MAX_DEPTH", DEFAULT_MAX_DEPTH)


def nesting_exceeds(text: str, limit: int) -> bool:
    """Tell whether arrays and objects in `text` nest deeper than `limit`.

    Brackets inside strings do not count. Strings and everything but brackets are cut
    out first, then each round removes the innermost pairs: at most `limit` rounds,
    each a linear pass in C, whatever the body.
    """
    strings = _STRING if "\\" in text else _PLAIN_STRING
    brackets = _NOT_BRACKET.sub("", strings.sub("", text)).translate(_ONE_KIND)
    levels = 0
    while "[]" in brackets:
        if levels == limit:
            return True
        brackets = brackets.replace("[]", "")
        levels += 1
    # What is left has no pair (text that is not JSON); its openers still nest.
    return levels + brackets.count("[") > limit


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise InvalidJSON("Numbers must be finite.")
    return value


def _refuse_constant(name: str):
    raise InvalidJSON(f"{name} is not a JSON number.")


def _check_strings(value, source: str) -> None:
    """Refuse strings (keys included) that hold NUL or a lone surrogate."""
    # Parsed JSON holds NUL or a surrogate only where the text escapes one (\u0000,
    # \udXXX); raw control characters and invalid UTF-8 are refused earlier.
    if "\\u0000" not in source and "\\ud" not in source.lower():
        return
    # Serialising again runs in C: a lone surrogate cannot be encoded as UTF-8, and NUL
    # comes out escaped.
    text = json.dumps(value, ensure_ascii=False)
    if _NUL.search(text):
        raise InvalidJSON("Text must not contain NUL characters.")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidJSON("Text must not contain lone surrogates.") from None


# One decoder for every body: json.loads with hooks builds a new one per call.
_DECODER = json.JSONDecoder(parse_float=_finite_float, parse_constant=_refuse_constant)


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
        value = _DECODER.decode(text)
    except InvalidJSON:
        raise
    except RecursionError:
        # Only reachable with a JSON_MAX_DEPTH near the interpreter's own limit.
        raise InvalidJSON("The JSON nests too deep.") from None
    except ValueError as exc:
        # Also integers longer than the interpreter converts (sys.get_int_max_str_digits).
        raise InvalidJSON(f"The body is not valid JSON: {_reason(exc)}") from None
    _check_strings(value, text)
    return value


def _reason(exc: ValueError) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} (character {exc.pos})."
    return "a number is too long."
