"""AES-256-GCM encryption at rest with a rotatable keyring.

`ENCRYPTION_KEYS` holds `kid:base64key` entries separated by commas; the first is the
primary key, used for every new write. Older keys still decrypt, so keys can be rotated:
add a new key in front, run `manage.py reencrypt`, then drop the old key.

A token is `enc1:<kid>:<base64url(nonce || ciphertext+tag)>`. The associated data binds
a value to its table and column, so a ciphertext copied into another column fails.
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed

TOKEN_PREFIX = "enc1"
NONCE_BYTES = 12


class DecryptionError(Exception):
    """A stored value cannot be decrypted: unknown key id, wrong key or tampered data."""


@dataclass(frozen=True)
class Keyring:
    primary_kid: str
    keys: dict[str, AESGCM]

    def encrypt(self, plaintext: str, *, associated_data: bytes) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self.keys[self.primary_kid].encrypt(
            nonce, plaintext.encode("utf-8"), associated_data
        )
        payload = base64.urlsafe_b64encode(nonce + sealed).decode("ascii")
        return f"{TOKEN_PREFIX}:{self.primary_kid}:{payload}"

    def decrypt(self, token: str, *, associated_data: bytes) -> str:
        kid = token_key_id(token)
        aead = self.keys.get(kid)
        if aead is None:
            raise DecryptionError(
                f"Encrypted value uses key id {kid!r}, which is not in ENCRYPTION_KEYS."
            )
        try:
            raw = base64.urlsafe_b64decode(token.split(":", 2)[2])
            plaintext = aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], associated_data)
        except (InvalidTag, binascii.Error, ValueError) as exc:
            raise DecryptionError(
                f"Encrypted value under key id {kid!r} failed authentication "
                "(wrong key, wrong column or tampered data)."
            ) from exc
        return plaintext.decode("utf-8")


def is_token(value: str) -> bool:
    return value.startswith(TOKEN_PREFIX + ":") and value.count(":") >= 2


def token_key_id(token: str) -> str:
    if not is_token(token):
        raise DecryptionError("Stored value is not an encrypted token.")
    return token.split(":", 2)[1]


def parse_keys(spec: str) -> Keyring:
    """Parse `kid:base64key,...`; raise ImproperlyConfigured with a clear message."""
    entries = [part.strip() for part in (spec or "").split(",") if part.strip()]
    if not entries:
        raise ImproperlyConfigured(
            "ENCRYPTION_KEYS is empty: set it to 'kid:base64-32-byte-key' "
            "(see .env.example; generate with `manage.py generate_encryption_key`)."
        )
    keys: dict[str, AESGCM] = {}
    for entry in entries:
        kid, sep, b64 = entry.partition(":")
        if not sep or not kid or ":" in kid:
            raise ImproperlyConfigured("Each ENCRYPTION_KEYS entry must be 'kid:base64key'.")
        try:
            material = base64.b64decode(b64, validate=True)
        except binascii.Error as exc:
            raise ImproperlyConfigured(f"ENCRYPTION_KEYS entry {kid!r} is not base64.") from exc
        if len(material) != 32:
            raise ImproperlyConfigured(
                f"ENCRYPTION_KEYS entry {kid!r} must be 32 bytes (AES-256), got {len(material)}."
            )
        if kid in keys:
            raise ImproperlyConfigured(f"ENCRYPTION_KEYS lists key id {kid!r} twice.")
        keys[kid] = AESGCM(material)
    return Keyring(primary_kid=entries[0].partition(":")[0], keys=keys)


@lru_cache(maxsize=1)
def _keyring_for(spec: str) -> Keyring:
    return parse_keys(spec)


def get_keyring() -> Keyring:
    """Return the keyring for the current settings (read at call time, parsed once)."""
    return _keyring_for(settings.ENCRYPTION_KEYS)


def generate_key() -> str:
    return base64.b64encode(os.urandom(32)).decode("ascii")


def _reset_keyring(*, setting, **kwargs):
    if setting == "ENCRYPTION_KEYS":
        _keyring_for.cache_clear()


setting_changed.connect(_reset_keyring)
