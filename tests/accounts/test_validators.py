"""Names that stay on one line and read in order; one spelling per email address."""

import pytest
from django.core.exceptions import ValidationError

from accounts.validators import (
    email_collision_key,
    email_normalise,
    text_has_unsafe_chars,
    text_single_line,
    validate_name,
)

# ---------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    "name",
    [
        "Ada Lovelace",
        "Zoë Ångström",
        "王小明",
        "محمد",
        "Ada 👩‍💻 (ZWJ emoji)",
        "O'Brien-Smith, Jr.",
    ],
)
def test_ordinary_names_in_any_script_are_accepted(name):
    validate_name(name)


@pytest.mark.parametrize(
    "char",
    [
        "\t",
        "\n",
        "\r",
        "\x00",
        "\x07",
        "\x1b",
        "\x7f",
        "\x85",
        "\u2028",
        "\u2029",
        "\u202a",
        "\u202b",
        "\u202c",
        "\u202d",
        "\u202e",
        "\u2066",
        "\u2067",
        "\u2068",
        "\u2069",
        "\u200e",
        "\u200f",
        "\u061c",
        "\ud800",
    ],
)
def test_control_separator_and_direction_characters_are_refused(char):
    with pytest.raises(ValidationError) as caught:
        validate_name(f"Ada{char}Lovelace")
    assert caught.value.code == "unsafe_characters"
    assert text_has_unsafe_chars(char)


def test_text_single_line_makes_header_text_out_of_anything():
    assert text_single_line("leaky\nBcc: x@example.com") == "leaky Bcc: x@example.com"
    assert text_single_line("a\r\n\tb \u202ec\u2069  d") == "a b c d"
    assert text_single_line("x" * 50, max_length=10) == "xxxxxxxxx…"


# ---------------------------------------------------------------------------- email addresses


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("alice@example.com", "alice@example.com"),
        ("  Alice@EXAMPLE.com ", "alice@example.com"),
        ("alice@\uff45xample.com", "alice@example.com"),  # full-width e
        ("alice@\uff25\uff38\uff21\uff2d\uff30\uff2c\uff25.com", "alice@example.com"),
        ("alice@example.com.", "alice@example.com"),
        ("alice@xn--bcher-kva.de", "alice@b\u00fccher.de"),
        ("alice@bu\u0308cher.de", "alice@b\u00fccher.de"),  # decomposed ü
        ("alice@\u043f\u0440\u0438\u043c\u0435\u0440.\u0440\u0444", "alice@пример.рф"),
        ("alice@例え.テスト", "alice@例え.テスト"),  # Han and Katakana may share a label
        ("alice+tag@example.com", "alice+tag@example.com"),
    ],
)
def test_every_spelling_of_a_mailbox_normalises_to_one(typed, stored):
    assert email_normalise(typed) == stored


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ('"alice"@example.com', "quoted_local_part"),
        ('"a b"@example.com', "quoted_local_part"),
        ("alice@ex\u0430mple.com", "mixed_script_domain"),  # Cyrillic a (U+0430)
        ("alice@xn--exmple-4nf.com", "mixed_script_domain"),  # the same in punycode
        ("alice@\u0440aypal.com", "mixed_script_domain"),  # Cyrillic er (U+0440)
        ("\uff41lice@example.com", "compatibility_characters"),  # full-width a
        ("alice@exa_mple.com", "invalid_domain"),
        ("alice@[127.0.0.1]", "invalid_domain"),
        ("alice@-example.com", "invalid_domain"),
        ("alice@example.com\nBcc: x@example.com", "invalid"),
        ("alice", "invalid"),
        ("@example.com", "invalid"),
        ("", "invalid"),
        ("a@" + "b" * 250 + ".com", "invalid_domain"),
    ],
)
def test_quoted_look_alike_and_malformed_addresses_are_refused(typed, code):
    with pytest.raises(ValidationError) as caught:
        email_normalise(typed)
    assert caught.value.code == code


def test_a_non_string_address_is_refused():
    with pytest.raises(ValidationError):
        email_normalise(["alice@example.com"])


def test_collision_keys_match_spellings_that_reach_one_mailbox():
    key = email_collision_key("alice@example.com")
    assert email_collision_key('"alice"@example.com') == key
    assert email_collision_key("ALICE@\uff45xample.com") == key
    assert email_collision_key("\uff41lice@example.com") == key
    assert email_collision_key("alice@ex\u0430mple.com") == email_collision_key(
        "alice@xn--exmple-4nf.com"
    )
    assert email_collision_key("alice@ex\u0430mple.com") != key
    assert email_collision_key("bob@example.com") != key
