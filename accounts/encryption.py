"""Re-seal every encrypted value under the primary key (key rotation).

The stored tokens are read and written with plain SQL on purpose: the ORM would
decrypt on read, and the point here is to look at the token itself (which key sealed
it) and to change nothing but that column. Work proceeds in primary-key order, one
transaction per batch, so memory stays bounded and an interrupted run can simply be
started again: values already under the primary key are skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.apps import apps
from django.db import connections, router, transaction
from django.db.models import Model

from accounts.crypto import get_keyring, is_token
from accounts.fields import EncryptedTextField

# Tables whose database guard only lets a column change while a flag is set for the
# transaction (see accounts/migrations/0002_audit_append_only.py).
_GUARD_FLAGS = {"accounts_auditevent": "console.audit_reencrypt"}


@dataclass
class ReencryptCount:
    """What one run did (or, in a dry run, would do) to one encrypted column."""

    model: str
    field: str
    scanned: int = 0
    reencrypted: int = 0
    current: int = 0
    changed_meanwhile: int = 0


def encrypted_fields(
    models: Iterable[type[Model]] | None = None,
) -> list[tuple[type[Model], EncryptedTextField]]:
    """List every (concrete model, encrypted field) pair, each column exactly once.

    Proxy and unmanaged models share or do not own their table; inherited columns
    belong to the parent's table and are listed there.
    """
    pairs = []
    for model in models if models is not None else apps.get_models():
        meta = model._meta
        if meta.proxy or not meta.managed or meta.swapped:
            continue
        for field in meta.local_concrete_fields:
            if isinstance(field, EncryptedTextField):
                pairs.append((model, field))
    return pairs


def encrypted_values_reencrypt(
    *,
    batch_size: int = 500,
    dry_run: bool = False,
    models: Iterable[type[Model]] | None = None,
    progress: Callable[[ReencryptCount], None] | None = None,
) -> list[ReencryptCount]:
    """Re-seal every encrypted value not yet under the primary key; return counts.

    A value that cannot be decrypted stops the run with DecryptionError: silently
    skipping it would let the old key be dropped while data still depends on it.
    A dry run decrypts too, so it proves that the run would succeed.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1.")
    results = []
    for model, field in encrypted_fields(models):
        count = _reencrypt_column(model, field, batch_size=batch_size, dry_run=dry_run)
        results.append(count)
        if progress is not None:
            progress(count)
    return results


def _reencrypt_column(
    model: type[Model], field: EncryptedTextField, *, batch_size: int, dry_run: bool
) -> ReencryptCount:
    keyring = get_keyring()
    using = router.db_for_write(model)
    connection = connections[using]
    qn = connection.ops.quote_name
    table = model._meta.db_table
    # Identifiers come from model metadata and are quoted; values are parameters.
    t, pk, col = qn(table), qn(model._meta.pk.column), qn(field.column)
    first = f"SELECT {pk}, {col} FROM {t} WHERE {col} IS NOT NULL ORDER BY {pk} LIMIT %s"  # noqa: S608
    after = (
        f"SELECT {pk}, {col} FROM {t} WHERE {col} IS NOT NULL AND {pk} > %s "  # noqa: S608
        f"ORDER BY {pk} LIMIT %s"
    )
    # Compare with the token read, so a value written meanwhile is never overwritten.
    update = f"UPDATE {t} SET {col} = %s WHERE {pk} = %s AND {col} = %s"  # noqa: S608
    count = ReencryptCount(model=model._meta.label, field=field.name)
    last_pk = None
    while True:
        with transaction.atomic(using=using), connection.cursor() as cursor:
            if last_pk is None:
                cursor.execute(first, [batch_size])
            else:
                cursor.execute(after, [last_pk, batch_size])
            rows = cursor.fetchall()
            if not rows:
                return count
            last_pk = rows[-1][0]
            changes = []
            for row_pk, token in rows:
                count.scanned += 1
                if is_token(token) and keyring.is_current(token):
                    count.current += 1
                    continue
                # Decrypting proves the old key is present and the token is intact.
                plaintext = field.decrypt_token(token)
                changes.append((field.encrypt_value(plaintext), row_pk, token))
            if dry_run or not changes:
                count.reencrypted += len(changes)
                continue
            flag = _GUARD_FLAGS.get(table)
            if flag and connection.vendor == "postgresql":
                cursor.execute("SELECT set_config(%s, 'on', true)", [flag])
            for params in changes:
                cursor.execute(update, list(params))
                if cursor.rowcount == 1:
                    count.reencrypted += 1
                else:
                    count.changed_meanwhile += 1
