"""Parsing untrusted JSON bodies: depth, numbers and characters are bounded."""

import json

import pytest

from accounts import jsonbody


def test_nesting_within_the_limit_parses():
    body = "[" * 32 + "]" * 32
    assert jsonbody.loads(body, depth=32) == json.loads(body)


@pytest.mark.parametrize(
    "body",
    ["[" * 100_000, "[" * 33 + "]" * 33, '{"a":' * 33 + "1" + "}" * 33, '[{"a": [' * 11],
)
def test_nesting_past_the_limit_is_refused_before_parsing(body):
    with pytest.raises(jsonbody.InvalidJSON, match="at most 32 levels"):
        jsonbody.loads(body, depth=32)


def test_brackets_inside_strings_do_not_count():
    body = '{"name": "' + "[" * 1000 + '\\"[[[", "x": ["{{{"]}'
    assert jsonbody.loads(body, depth=2)["name"].startswith("[[[")


def test_an_unterminated_string_is_refused_as_invalid_json():
    with pytest.raises(jsonbody.InvalidJSON, match="not valid JSON"):
        jsonbody.loads('["' + "\\" + '"' * 10_000)


def test_the_limit_comes_from_settings_at_call_time(settings):
    settings.JSON_MAX_DEPTH = 3
    assert jsonbody.loads("[[[]]]") == [[[]]]
    with pytest.raises(jsonbody.InvalidJSON, match="at most 3 levels"):
        jsonbody.loads("[[[[]]]]")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ('{"a": 1e999999}', "finite"),
        ('{"a": -1e400}', "finite"),
        ('{"a": NaN}', "not a JSON number"),
        ('{"a": Infinity}', "not a JSON number"),
        ('{"a": ' + "9" * 5000 + "}", "too long"),
        ('{"a": "x\\u0000"}', "NUL"),
        ('{"x\\u0000": 1}', "NUL"),
        ('["\\ud800"]', "surrogate"),
        ('{"\\udfff": 1}', "surrogate"),
        ('[[[["\\ud83d"]]]]', "surrogate"),
        ("{'a': 1}", "not valid JSON"),
        (b'{"a": "\xff"}', "UTF-8"),
        (b'["\xed\xa0\x80"]', "UTF-8"),
    ],
)
def test_values_no_client_means_are_refused(body, reason):
    with pytest.raises(jsonbody.InvalidJSON, match=reason):
        jsonbody.loads(body)


def test_ordinary_bodies_parse_unchanged():
    body = '{"name": "Zoë 🚀", "n": 12, "f": 1.5, "ok": true, "none": null, "list": [1, "2"]}'
    assert jsonbody.loads(body.encode()) == {
        "name": "Zoë 🚀",
        "n": 12,
        "f": 1.5,
        "ok": True,
        "none": None,
        "list": [1, "2"],
    }
    assert jsonbody.loads('"\\ud83d\\ude80"') == "🚀"
