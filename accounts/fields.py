"""A model field whose value is stored encrypted with AES-256-GCM (see accounts.crypto)."""

from __future__ import annotations

from django.db import models

from accounts.crypto import get_keyring, is_token


class EncryptedTextField(models.TextField):
    """Text stored as an AES-256-GCM token bound to its table and column.

    Lookups other than `isnull` cannot work on ciphertext and are refused. `None` stays
    `NULL`; every other value, the empty string included, is encrypted.
    """

    description = "Text encrypted at rest (AES-256-GCM)"

    def associated_data(self) -> bytes:
        return f"{self.model._meta.db_table}.{self.column}".encode()

    def from_db_value(self, value, expression, connection):
        if value is None:
            return None
        return get_keyring().decrypt(value, associated_data=self.associated_data())

    def to_python(self, value):
        return value

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None:
            return None
        return get_keyring().encrypt(str(value), associated_data=self.associated_data())

    def get_lookup(self, lookup_name):
        if lookup_name != "isnull":
            return None
        return super().get_lookup(lookup_name)

    def reencrypt_token(self, token: str) -> str | None:
        """Return `token` re-sealed under the primary key, or None when already there."""
        keyring = get_keyring()
        if not is_token(token):
            raise ValueError("not an encrypted token")
        if token.split(":", 2)[1] == keyring.primary_kid:
            return None
        plaintext = keyring.decrypt(token, associated_data=self.associated_data())
        return keyring.encrypt(plaintext, associated_data=self.associated_data())
