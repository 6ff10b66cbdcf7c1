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
import re
import secrets
from dataclasses import dataclass
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed

TOKEN_PREFIX = "enc1"
NONCE_BYTES = 12
TAG_BYTES = 16
KEY_BYTES = 32
# Key ids travel inside every token, so keep them short and free of the separators.
_KID_RE = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")


class DecryptionError(Exception):
    """A stored value cannot be decrypted: unknown key id, wrong key or tampered data."""


@dataclass(frozen=True)
class Keyring:
    primary_kid: str
    keys: dict[str, AESGCM]

    def encrypt(self, plaintext: str, *, associated_data: bytes) -> str:
        """Seal `plaintext` under the primary key, bound to `associated_data`."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = self.keys[self.primary_kid].encrypt(
            nonce, plaintext.encode("utf-8"), associated_data
        )
        payload = base64.urlsafe_b64encode(nonce + sealed).decode("ascii")
        return f"{TOKEN_PREFIX}:{self.primary_kid}:{payload}"

    def decrypt(self, token: str, *, associated_data: bytes) -> str:
        """Open a token sealed under any key of the ring; raise DecryptionError otherwise."""
        kid = token_key_id(token)
        aead = self.keys.get(kid)
        if aead is None:
            raise DecryptionError(
                f"Encrypted value uses key id {kid!r}, which is not in ENCRYPTION_KEYS "
                f"(configured: {', '.join(self.keys)})."
            )
        try:
            raw = base64.b64decode(
                token.split(":", 2)[2].encode("ascii"), altchars=b"-_", validate=True
            )
            if len(raw) < NONCE_BYTES + TAG_BYTES:
                raise ValueError("token too short")
            plaintext = aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], associated_data)
            return plaintext.decode("utf-8")
        except (InvalidTag, binascii.Error, ValueError) as exc:
            # UnicodeDecodeError is a ValueError: a valid tag never yields invalid UTF-8,
            # but a clear error is still better than a traceback from deep inside.
            raise DecryptionError(
                f"Encrypted value under key id {kid!r} failed authentication "
                "(wrong key, wrong table or column, or tampered data)."
            ) from exc

    def encrypt_bytes(self, data: bytes, *, associated_data: bytes) -> bytes:
        """Seal binary `data` (a file) under the primary key: `enc1:<kid>:` + nonce + sealed."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = self.keys[self.primary_kid].encrypt(nonce, data, associated_data)
        return f"{TOKEN_PREFIX}:{self.primary_kid}:".encode("ascii") + nonce + sealed

    def decrypt_bytes(self, blob: bytes, *, associated_data: bytes) -> bytes:
        """Open what `encrypt_bytes` sealed; raise DecryptionError otherwise."""
        prefix = f"{TOKEN_PREFIX}:".encode("ascii")
        end = blob.find(b":", len(prefix), len(prefix) + 33) if blob.startswith(prefix) else -1
        if end < 0:
            raise DecryptionError("Stored file is not encrypted (enc1:<kid>:<data>).")
        aead = self.keys.get(blob[len(prefix) : end].decode("ascii", "replace"))
        # A view, not a copy: files run to megabytes.
        raw = memoryview(blob)[end + 1 :]
        if aead is None or len(raw) < NONCE_BYTES + TAG_BYTES:
            raise DecryptionError("Stored file uses an unknown key id or is truncated.")
        try:
            return aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], associated_data)
        except InvalidTag as exc:
            raise DecryptionError(
                "Stored file failed authentication (wrong key or tampered data)."
            ) from exc

    def is_current(self, token: str) -> bool:
        """Tell whether `token` is already sealed under the primary key."""
        return token_key_id(token) == self.primary_kid


def is_token(value: object) -> bool:
    return isinstance(value, str) and value.startswith(TOKEN_PREFIX + ":") and value.count(":") >= 2


def token_key_id(token: str) -> str:
    if not is_token(token):
        # Never echo the value: it might be plaintext that should not reach a log.
        raise DecryptionError("Stored value is not an encrypted token (enc1:<kid>:<data>).")
    return token.split(":", 2)[1]


def _parse_entries(spec: str, setting: str = "ENCRYPTION_KEYS") -> dict[str, bytes]:
    if not isinstance(spec, str):
        raise ImproperlyConfigured(f"{setting} must be a string 'kid:base64key,...'.")
    entries = [part.strip() for part in spec.split(",") if part.strip()]
    if not entries:
        raise ImproperlyConfigured(
            f"{setting} is empty: set it to 'kid:base64-32-byte-key' "
            "(see .env.example; generate with `manage.py generate_encryption_key`)."
        )
    materials: dict[str, bytes] = {}
    for position, entry in enumerate(entries, start=1):
        kid, sep, b64 = entry.partition(":")
        kid, b64 = kid.strip(), b64.strip()
        if not sep or not kid or not b64:
            raise ImproperlyConfigured(
                f"{setting} entry {position} must be 'kid:base64key' "
                "(entries are separated by commas)."
            )
        if not _KID_RE.match(kid):
            raise ImproperlyConfigured(
                f"{setting} entry {position}: key id {kid!r} must be 1-32 characters "
                "of letters, digits, '_', '.' or '-'."
            )
        try:
            material = base64.b64decode(b64, validate=True)
        except binascii.Error as exc:
            raise ImproperlyConfigured(
                f"{setting} entry {kid!r}: the key is not valid base64."
            ) from exc
        if len(material) != KEY_BYTES:
            raise ImproperlyConfigured(
                f"{setting} entry {kid!r} must decode to {KEY_BYTES} bytes (AES-256), "
                f"got {len(material)}."
            )
        if kid in materials:
            raise ImproperlyConfigured(f"{setting} lists key id {kid!r} twice.")
        materials[kid] = material
    return materials


def parse_keys(spec: str) -> Keyring:
    """Parse `kid:base64key,...`; raise ImproperlyConfigured with a clear message."""
    keys = {kid: AESGCM(material) for kid, material in _parse_entries(spec).items()}
    return Keyring(primary_kid=next(iter(keys)), keys=keys)


@lru_cache(maxsize=4)
def _keyring_for(spec: str) -> Keyring:
    return parse_keys(spec)


def get_keyring() -> Keyring:
    """Return the keyring for the current settings (read at call time, parsed once)."""
    return _keyring_for(getattr(settings, "ENCRYPTION_KEYS", ""))


def generate_key() -> str:
    """Return fresh random key material, base64-encoded."""
    return base64.b64encode(os.urandom(KEY_BYTES)).decode("ascii")


def generate_key_id() -> str:
    """Return a fresh key id that will not collide with an earlier one by accident."""
    return f"k{secrets.token_hex(4)}"


# The audit chain is keyed with HMAC-SHA256, from its own keyring (AUDIT_CHAIN_KEYS, same
# format): a key that seals personal data is never also the one that vouches for the log.
# Events chained before the chain was keyed carry this id and a plain SHA-256 link.
LEGACY_CHAIN_KID = "legacy"


@dataclass(frozen=True)
class MacKeyring:
    primary_kid: str
    keys: dict[str, bytes]

    def key(self, kid: str) -> bytes:
        """Return the key material for `kid`; raise DecryptionError when it is not configured."""
        try:
            return self.keys[kid]
        except KeyError:
            raise DecryptionError(
                f"Audit chain key id {kid!r} is not in AUDIT_CHAIN_KEYS "
                f"(configured: {', '.join(self.keys)})."
            ) from None


def parse_chain_keys(spec: str) -> MacKeyring:
    """Parse AUDIT_CHAIN_KEYS (`kid:base64key,...`, the first is primary)."""
    keys = _parse_entries(spec, "AUDIT_CHAIN_KEYS")
    if LEGACY_CHAIN_KID in keys:
        raise ImproperlyConfigured(
            f"AUDIT_CHAIN_KEYS cannot use the key id {LEGACY_CHAIN_KID!r}: it marks events "
            "chained before the chain was keyed."
        )
    return MacKeyring(primary_kid=next(iter(keys)), keys=keys)


@lru_cache(maxsize=4)
def _chain_keyring_for(spec: str) -> MacKeyring:
    return parse_chain_keys(spec)


def get_chain_keyring() -> MacKeyring:
    """Return the audit chain's keyring for the current settings."""
    return _chain_keyring_for(getattr(settings, "AUDIT_CHAIN_KEYS", ""))


def _reset_keyring(*, setting, **kwargs):
    if setting == "ENCRYPTION_KEYS":
        _keyring_for.cache_clear()
    if setting == "AUDIT_CHAIN_KEYS":
        _chain_keyring_for.cache_clear()


setting_changed.connect(_reset_keyring)


@checks.register(checks.Tags.security)
def check_encryption_keys(app_configs=None, **kwargs):
    """Refuse to start with a missing or malformed ENCRYPTION_KEYS."""
    try:
        parse_keys(getattr(settings, "ENCRYPTION_KEYS", ""))
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), id="accounts.E001")]
    return []


@checks.register(checks.Tags.security)
def check_audit_chain_keys(app_configs=None, **kwargs):
    """Refuse to start with a missing or malformed AUDIT_CHAIN_KEYS."""
    try:
        parse_chain_keys(getattr(settings, "AUDIT_CHAIN_KEYS", ""))
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), id="accounts.E004")]
    return []


@checks.register(checks.Tags.security, deploy=True)
def check_encryption_keys_are_random(app_configs=None, **kwargs):
    """Refuse typed-in keys (such as the development key) in a deployment.

    Random key material is practically never all printable ASCII; a key that is was
    written by a person, and the development default is one of those.
    """
    errors = []
    for setting in ("ENCRYPTION_KEYS", "AUDIT_CHAIN_KEYS"):
        try:
            materials = _parse_entries(getattr(settings, setting, ""), setting)
        except ImproperlyConfigured:
            continue  # check_encryption_keys / check_audit_chain_keys report it.
        errors += [
            checks.Error(
                f"{setting} entry {kid!r} looks typed rather than random; generate one "
                "with `manage.py generate_encryption_key`.",
                id="accounts.E003",
            )
            for kid, material in materials.items()
            if all(0x20 <= byte < 0x7F for byte in material)
        ]
    return errors
