"""Standard Webhooks signatures (https://www.standardwebhooks.com/).

A secret is `whsec_` and the base64 of 32 random bytes. Each message is signed with
HMAC-SHA256 over `<webhook-id>.<webhook-timestamp>.<body>`, keyed with the decoded
bytes; the `webhook-signature` header holds `v1,<base64 signature>`, several of them
space-separated while a rotated secret still overlaps the new one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
SECRET_PATTERN = r"^whsec_[A-Za-z0-9+/]{32,88}={0,2}$"


def secret_generate() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key of a `whsec_` secret; ValueError when it is not one."""
    if not re.fullmatch(SECRET_PATTERN, secret or ""):
        raise ValueError("A signing secret is whsec_ followed by base64 (24 to 64 bytes).")
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except binascii.Error as exc:
        raise ValueError("A signing secret is whsec_ followed by base64.") from exc
    if not 24 <= len(key) <= 64:
        raise ValueError("A signing secret decodes to 24 to 64 bytes.")
    return key


def signature(*, secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(*, secrets_: list[str], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The Standard Webhooks headers of one attempt, signed with every secret given."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(
            signature(secret=s, msg_id=msg_id, timestamp=timestamp, body=body) for s in secrets_
        ),
    }
