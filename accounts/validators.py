"""Checks for text people type that other software later trusts: names and addresses.

Names end up in page titles, email subjects, CSV files and log lines, where a line
break, a tab or a bidirectional override changes what the reader sees. Email addresses
are identities: one mailbox must map to one spelling, so an address is normalised
before anything compares it.
"""

from __future__ import annotations

import unicodedata

import idna
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

# Explicit direction marks, embeddings, overrides and isolates (Unicode bidi controls).
BIDI_CONTROLS = frozenset(
    "\u061c"  # ARABIC LETTER MARK
    "\u200e\u200f"  # LEFT-TO-RIGHT / RIGHT-TO-LEFT MARK
    "\u202a\u202b\u202c\u202d\u202e"  # LRE, RLE, PDF, LRO, RLO
    "\u2066\u2067\u2068\u2069"  # LRI, RLI, FSI, PDI
)
# Control characters (C0, DEL, C1), line and paragraph separators, lone surrogates.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Zl", "Zp", "Cs"})

NAME_UNSAFE_MESSAGE = (
    "Use letters, digits, spaces and punctuation only: no line breaks, tabs, "
    "control characters or text-direction marks."
)


def char_is_unsafe(char: str) -> bool:
    """Return whether `char` is a control, line-separating or bidi-control character."""
    return char in BIDI_CONTROLS or unicodedata.category(char) in _UNSAFE_CATEGORIES


def text_has_unsafe_chars(value: str) -> bool:
    return any(char_is_unsafe(char) for char in value)


def validate_name(value: str) -> None:
    """Refuse names of people, workspaces and keys that carry unsafe characters."""
    if isinstance(value, str) and text_has_unsafe_chars(value):
        raise ValidationError(NAME_UNSAFE_MESSAGE, code="unsafe_characters")


def text_single_line(value: str, *, max_length: int | None = None) -> str:
    """Return `value` as one line of plain text, fit for an email header.

    Unsafe characters become spaces, runs of whitespace collapse to one space.
    """
    cleaned = "".join(" " if char_is_unsafe(char) else char for char in str(value))
    cleaned = " ".join(cleaned.split())
    if max_length is not None and len(cleaned) > max_length:
        cleaned = cleaned[: max_length - 1].rstrip() + "…"
    return cleaned


# ---------------------------------------------------------------------------- email addresses

EMAIL_MAX_LENGTH = 254
EMAIL_INVALID_MESSAGE = "Enter a valid email address."
EMAIL_QUOTED_MESSAGE = (
    "Addresses with quotation marks are not accepted; type the address without them."
)
EMAIL_COMPATIBILITY_MESSAGE = (
    "The part before @ contains full-width or other look-alike characters; "
    "type it in plain characters."
)
EMAIL_DOMAIN_INVALID_MESSAGE = "The part after @ is not a valid domain name."
EMAIL_MIXED_SCRIPT_MESSAGE = (
    "The domain mixes letters from different alphabets (for example Latin and Cyrillic), "
    "which is how look-alike domains are made. Check the address."
)

# Scripts that may share one domain label, as in UTS #39's "highly restrictive" level:
# Japanese, Chinese and Korean writing mix Han with their own scripts and with Latin.
_SCRIPT_MIXES_ALLOWED = (
    frozenset({"LATIN", "CJK", "HIRAGANA", "KATAKANA"}),
    frozenset({"LATIN", "CJK", "BOPOMOFO"}),
    frozenset({"LATIN", "CJK", "HANGUL"}),
)


def _script(char: str) -> str | None:
    """Return the script of a letter from its Unicode name (None for anything else)."""
    if not char.isalpha():
        return None
    name = unicodedata.name(char, "")
    word = name.split(" ", 1)[0]
    if word == "KATAKANA-HIRAGANA":  # the prolonged sound mark, shared by both
        return None
    return word or None


def domain_label_is_mixed_script(label: str) -> bool:
    scripts = {script for script in map(_script, label) if script}
    if len(scripts) <= 1:
        return False
    return not any(scripts <= allowed for allowed in _SCRIPT_MIXES_ALLOWED)


def _domain_unicode(domain: str) -> str:
    """Return the domain in its one Unicode spelling (IDNA 2008 with UTS #46 mapping).

    Full-width letters, upper case and a punycode spelling all map to the same result.
    Raise `idna.IDNAError` (or `UnicodeError`) when it is not a valid domain name.
    """
    ascii_form = idna.encode(domain, uts46=True, std3_rules=True).decode("ascii")
    return idna.decode(ascii_form).lower()


def email_normalise(value: str) -> str:
    """Return the one spelling of an email address; raise ValidationError if it is refused.

    The domain goes through IDNA (so a full-width `example.com`, `EXAMPLE.com` and `example.com`
    are one domain, and a punycode domain equals its Unicode spelling) and is refused
    when one label mixes alphabets. The local part is NFC-normalised and lower-cased;
    quoted local parts and full-width or other compatibility characters are refused.
    """
    if not isinstance(value, str):
        raise ValidationError(EMAIL_INVALID_MESSAGE, code="invalid")
    address = unicodedata.normalize("NFC", value.strip())
    if not address or len(address) > EMAIL_MAX_LENGTH * 4 or text_has_unsafe_chars(address):
        raise ValidationError(EMAIL_INVALID_MESSAGE, code="invalid")
    local, sep, domain = address.rpartition("@")
    if not sep or not local or not domain:
        raise ValidationError(EMAIL_INVALID_MESSAGE, code="invalid")
    if '"' in local or "\\" in local:
        raise ValidationError(EMAIL_QUOTED_MESSAGE, code="quoted_local_part")
    if unicodedata.normalize("NFKC", local) != local:
        raise ValidationError(EMAIL_COMPATIBILITY_MESSAGE, code="compatibility_characters")
    if domain.endswith("."):
        domain = domain[:-1]
    try:
        domain = _domain_unicode(domain)
    except (idna.IDNAError, UnicodeError, ValueError):
        raise ValidationError(EMAIL_DOMAIN_INVALID_MESSAGE, code="invalid_domain") from None
    if any(domain_label_is_mixed_script(label) for label in domain.split(".")):
        raise ValidationError(EMAIL_MIXED_SCRIPT_MESSAGE, code="mixed_script_domain")
    address = f"{local.lower()}@{domain}"
    if len(address) > EMAIL_MAX_LENGTH:
        raise ValidationError(
            f"An email address has at most {EMAIL_MAX_LENGTH} characters.", code="max_length"
        )
    validate_email(address)
    return address


def email_collision_key(value: str) -> str:
    """Return the key under which two stored addresses reach one mailbox.

    Lenient where `email_normalise` refuses, so addresses stored before the rule can be
    compared: a quoted plain local part loses its quotes, compatibility characters are
    folded (NFKC), and a domain IDNA cannot map is only lower-cased.
    """
    address = unicodedata.normalize("NFKC", str(value).strip())
    local, _, domain = address.rpartition("@")
    if len(local) >= 2 and local.startswith('"') and local.endswith('"'):
        local = local[1:-1]
    domain = domain.rstrip(".")
    try:
        domain = _domain_unicode(domain)
    except (idna.IDNAError, UnicodeError, ValueError):
        domain = domain.lower()
    return f"{local.lower()}@{domain}"
