"""A model field whose value is stored encrypted with AES-256-GCM (see accounts.crypto)."""

from __future__ import annotations

from django.core import checks
from django.core.exceptions import FieldError
from django.db import models

from accounts.crypto import DecryptionError, get_keyring


class EncryptedTextField(models.TextField):
    """Text stored as an AES-256-GCM token bound to its table and column.

    Every value but `None` is encrypted, the empty string included; `None` stays `NULL`.
    Reads decrypt or raise DecryptionError; a ciphertext is never handed out as a value.

    Ciphertext cannot be compared, so every lookup but `isnull` is refused with a
    FieldError, and the field cannot be unique, indexed or a primary key. Ordering by
    it orders by ciphertext, which means nothing: don't.

    The associated data is `<db_table>.<column>` of the concrete model that owns the
    column. Renaming the table or the column therefore makes existing values
    unreadable; such a migration must re-seal them.
    """

    description = "Text encrypted at rest (AES-256-GCM)"

    def associated_data(self) -> bytes:
        table = self.model._meta.concrete_model._meta.db_table
        return f"{table}.{self.column}".encode()

    def label(self) -> str:
        return f"{self.model._meta.concrete_model._meta.db_table}.{self.column}"

    def decrypt_token(self, token: str) -> str:
        """Open a stored token; name the column in the error when that fails."""
        try:
            return get_keyring().decrypt(token, associated_data=self.associated_data())
        except DecryptionError as exc:
            raise DecryptionError(f"Cannot decrypt {self.label()}: {exc}") from exc

    def encrypt_value(self, value: str) -> str:
        """Seal a plaintext under the primary key for this column."""
        return get_keyring().encrypt(value, associated_data=self.associated_data())

    def from_db_value(self, value, expression, connection):
        if value is None:
            return None
        return self.decrypt_token(value)

    def to_python(self, value):
        if value is None or isinstance(value, str):
            return value
        return str(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None:
            return None
        return self.encrypt_value(value)

    def get_lookup(self, lookup_name):
        if lookup_name == "isnull":
            return super().get_lookup(lookup_name)
        raise FieldError(
            f"{self.model.__name__}.{self.name} is encrypted at rest; only the 'isnull' "
            f"lookup is supported, not {lookup_name!r} (ciphertext cannot be compared)."
        )

    def get_transform(self, lookup_name):
        raise FieldError(
            f"{self.model.__name__}.{self.name} is encrypted at rest and has no "
            f"transforms ({lookup_name!r} requested)."
        )

    def check(self, **kwargs):
        errors = super().check(**kwargs)
        for option in ("unique", "db_index", "primary_key"):
            if getattr(self, option, False):
                errors.append(
                    checks.Error(
                        f"EncryptedTextField cannot be {option}: each write is sealed "
                        "with a fresh nonce, so equal values never compare equal.",
                        obj=self,
                        id="accounts.E002",
                    )
                )
        return errors
