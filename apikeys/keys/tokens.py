"""The API key format and how its secret is stored.

A key reads `<prefix><public_id>_<secret><checksum>`:

- `prefix` names the product and the environment (`cnsl_dev_`, `cnsl_prod_`), so a
  development key is never mistaken for a production one;
- `public_id` (12 base62 characters) finds the stored row without revealing anything;
- `secret` is 32 bytes from `secrets` written as 43 base62 characters (256 bits);
- `checksum` is the CRC32 of everything before it, as 6 base62 characters, so a secret
  scanner (and our own verify) rejects a mistyped or random string without any lookup.

Only HMAC-SHA256(pepper, secret) is stored, with the id of the pepper used. Peppers
come from `API_KEY_PEPPERS` ("id:base64,id:base64"; the first is the primary, used for
new secrets; the others still verify), so a pepper can be rotated.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import zlib
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models


class Environment(models.TextChoices):
    DEVELOPMENT = "development", "Development"
    PRODUCTION = "production", "Production"


ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
PRODUCT = "cnsl"
ENVIRONMENT_TAGS = {Environment.DEVELOPMENT.value: "dev", Environment.PRODUCTION.value: "prod"}
TAG_ENVIRONMENTS = {tag: env for env, tag in ENVIRONMENT_TAGS.items()}
PUBLIC_ID_LENGTH = 12
SECRET_BYTES = 32
SECRET_LENGTH = 43  # 62**43 > 2**256: every 32-byte secret fits
CHECKSUM_LENGTH = 6  # 62**6 > 2**32
MAX_KEY_LENGTH = 80

_KEY_RE = re.compile(
    rf"^{PRODUCT}_(dev|prod)_([0-9A-Za-z]{{{PUBLIC_ID_LENGTH}}})_"
    rf"([0-9A-Za-z]{{{SECRET_LENGTH}}})([0-9A-Za-z]{{{CHECKSUM_LENGTH}}})$"
)


class MalformedKey(ValueError):
    """The string is not an API key of ours (shape or checksum)."""


@dataclass(frozen=True, slots=True)
class ParsedKey:
    environment: str
    public_id: str
    secret: str


def _base62(number: int, width: int) -> str:
    chars = []
    while number:
        number, rest = divmod(number, 62)
        chars.append(ALPHABET[rest])
    if len(chars) > width:
        raise ValueError("number too large for width")
    return "".join(reversed(chars)).rjust(width, ALPHABET[0])


def _random_base62(length: int) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def checksum(body: str) -> str:
    """Return the base62 CRC32 of `body` (everything before the checksum)."""
    return _base62(zlib.crc32(body.encode("ascii")), CHECKSUM_LENGTH)


def prefix_for(environment: str) -> str:
    return f"{PRODUCT}_{ENVIRONMENT_TAGS[str(Environment(environment).value)]}_"


def new_public_id() -> str:
    return _random_base62(PUBLIC_ID_LENGTH)


def new_secret() -> str:
    return _base62(int.from_bytes(secrets.token_bytes(SECRET_BYTES), "big"), SECRET_LENGTH)


def assemble(*, environment: str, public_id: str, secret: str) -> str:
    body = f"{prefix_for(environment)}{public_id}_{secret}"
    return body + checksum(body)


def parse(key) -> ParsedKey:
    """Split a key into its parts, or raise MalformedKey (no I/O of any kind)."""
    if not isinstance(key, str) or len(key) > MAX_KEY_LENGTH:
        raise MalformedKey("not a key")
    match = _KEY_RE.match(key)
    if match is None:
        raise MalformedKey("not a key")
    tag, public_id, secret, check = match.groups()
    if not hmac.compare_digest(check, checksum(key[:-CHECKSUM_LENGTH])):
        raise MalformedKey("bad checksum")
    return ParsedKey(environment=TAG_ENVIRONMENTS[tag], public_id=public_id, secret=secret)


def display(*, environment: str, public_id: str, last_four: str) -> str:
    """Return what the console shows after creation: prefix, public id, last four."""
    return f"{prefix_for(environment)}{public_id}_…{last_four}"


def display_from_string(value: str) -> str | None:
    """Return the public id inside something that looks like a key or key prefix."""
    match = re.match(rf"^{PRODUCT}_(?:dev|prod)_([0-9A-Za-z]{{{PUBLIC_ID_LENGTH}}})", value)
    return match.group(1) if match else None


# ---------------------------------------------------------------------------- peppers

_peppers_cache: tuple[str, dict[str, bytes], str] | None = None


def peppers() -> tuple[dict[str, bytes], str]:
    """Return ({pepper id: pepper}, primary id) from API_KEY_PEPPERS, read at call time.

    The parsed form is kept while the setting's text stays the same.
    """
    global _peppers_cache
    raw = getattr(settings, "API_KEY_PEPPERS", "") or ""
    cached = _peppers_cache
    if cached is not None and cached[0] == raw:
        return cached[1], cached[2]
    parsed: dict[str, bytes] = {}
    primary = ""
    for entry in (part.strip() for part in raw.split(",")):
        if not entry:
            continue
        pepper_id, _, encoded = entry.partition(":")
        try:
            value = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise ImproperlyConfigured(
                f"API_KEY_PEPPERS entry {pepper_id!r} is not base64."
            ) from None
        if not pepper_id or len(value) < 16:
            raise ImproperlyConfigured("Each API_KEY_PEPPERS entry needs an id and ≥16 bytes.")
        parsed[pepper_id] = value
        primary = primary or pepper_id
    if not parsed:
        raise ImproperlyConfigured("API_KEY_PEPPERS is empty.")
    _peppers_cache = (raw, parsed, primary)
    return parsed, primary


def secret_hash(secret: str, *, pepper_id: str | None = None) -> tuple[str, str]:
    """Return (hex HMAC-SHA256 of `secret`, pepper id); the primary pepper by default."""
    table, primary = peppers()
    pepper_id = pepper_id or primary
    digest = hmac.new(table[pepper_id], secret.encode("ascii"), hashlib.sha256).hexdigest()
    return digest, pepper_id


def secret_matches(secret: str, *, stored_hash: str, pepper_id: str) -> bool:
    """Compare in constant time; an unknown (retired) pepper never matches."""
    if not stored_hash:
        return False
    table, _ = peppers()
    pepper = table.get(pepper_id)
    if pepper is None:
        return False
    digest = hmac.new(pepper, secret.encode("ascii"), hashlib.sha256).hexdigest()
    return hmac.compare_digest(digest, stored_hash)
