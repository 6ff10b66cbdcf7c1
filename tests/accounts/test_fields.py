import base64
import os

import pytest
from django.core.exceptions import FieldError
from django.db import connection, models
from django.test import override_settings
from django.test.utils import isolate_apps

from accounts.audit import Action, audit_record
from accounts.crypto import DecryptionError
from accounts.fields import EncryptedTextField
from accounts.models import AuditEvent, User
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _raw(table: str, column: str, pk) -> str | None:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])  # noqa: S608
        return cursor.fetchone()[0]


def test_value_is_stored_as_a_token_and_read_back_as_plaintext():
    user = UserFactory(name="Grace Hopper")
    stored = _raw("accounts_user", "name", user.pk)
    assert stored.startswith("enc1:t1:")
    assert "Grace" not in stored
    assert User.objects.get(pk=user.pk).name == "Grace Hopper"


def test_empty_string_is_encrypted_and_none_stays_null(user):
    user.name = ""
    user.save(update_fields=["name"])
    assert _raw("accounts_user", "name", user.pk).startswith("enc1:")
    assert User.objects.get(pk=user.pk).name == ""
    event = audit_record(action=Action.LOGIN, actor=user, ip_address=None)
    assert _raw("accounts_auditevent", "ip_address", event.pk) is None
    assert AuditEvent.objects.get(pk=event.pk).ip_address is None


def test_queryset_update_encrypts(user):
    User.objects.filter(pk=user.pk).update(name="Updated Name")
    assert "Updated" not in _raw("accounts_user", "name", user.pk)
    assert User.objects.get(pk=user.pk).name == "Updated Name"


def test_values_and_values_list_decrypt(user):
    user.name = "Alan Turing"
    user.save(update_fields=["name"])
    assert User.objects.filter(pk=user.pk).values("name")[0] == {"name": "Alan Turing"}
    assert list(User.objects.filter(pk=user.pk).values_list("name", flat=True)) == ["Alan Turing"]


def test_bulk_create_and_bulk_update_encrypt():
    users = User.objects.bulk_create(
        [User(email="b1@example.com", name="Bulk One"), User(email="b2@example.com", name="B2")]
    )
    for u in users:
        assert "Bulk" not in _raw("accounts_user", "name", u.pk)
    users[0].name = "Bulk Changed"
    users[1].name = "Also Changed"
    User.objects.bulk_update(users, ["name"])
    assert "Changed" not in _raw("accounts_user", "name", users[0].pk)
    assert sorted(
        User.objects.filter(pk__in=[u.pk for u in users]).values_list("name", flat=True)
    ) == [
        "Also Changed",
        "Bulk Changed",
    ]


def test_only_and_defer_decrypt_when_the_field_is_loaded(user):
    user.name = "Deferred Person"
    user.save(update_fields=["name"])
    assert User.objects.only("email").get(pk=user.pk).name == "Deferred Person"
    assert User.objects.defer("name").get(pk=user.pk).name == "Deferred Person"
    assert User.objects.only("name").get(pk=user.pk).name == "Deferred Person"


def test_isnull_lookup_works(user):
    audit_record(action=Action.LOGIN, actor=user, ip_address="198.51.100.1")
    audit_record(action=Action.LOGIN, actor=user, ip_address=None)
    assert AuditEvent.objects.filter(ip_address__isnull=True).count() == 1
    assert AuditEvent.objects.filter(ip_address__isnull=False).count() == 1


@pytest.mark.parametrize("lookup", ["name", "name__exact", "name__icontains", "name__in"])
def test_comparing_lookups_are_refused_with_a_clear_error(lookup):
    value = ["x"] if lookup.endswith("__in") else "x"
    with pytest.raises(FieldError, match="encrypted at rest; only the 'isnull' lookup"):
        User.objects.filter(**{lookup: value}).exists()


def test_transforms_are_refused():
    with pytest.raises(FieldError, match="encrypted at rest"):
        User.objects.filter(name__lower="x").exists()


def test_token_copied_to_another_column_fails_to_read(user):
    event = audit_record(action=Action.LOGIN, actor=user, ip_address="192.0.2.44")
    token = _raw("accounts_auditevent", "ip_address", event.pk)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE accounts_user SET name = %s WHERE id = %s", [token, user.pk])
    with pytest.raises(DecryptionError, match=r"accounts_user\.name") as exc:
        User.objects.get(pk=user.pk)
    assert "192.0.2.44" not in str(exc.value)


def test_plaintext_in_the_column_raises_instead_of_being_returned(user):
    with connection.cursor() as cursor:
        cursor.execute("UPDATE accounts_user SET name = 'Leaked' WHERE id = %s", [user.pk])
    with pytest.raises(DecryptionError, match="not an encrypted token"):
        User.objects.values_list("name", flat=True).get(pk=user.pk)


def test_reading_with_an_unknown_key_raises_and_never_returns_ciphertext(user):
    other = base64.b64encode(os.urandom(32)).decode()
    with override_settings(ENCRYPTION_KEYS=f"other:{other}"):
        with pytest.raises(DecryptionError, match="'t1', which is not in ENCRYPTION_KEYS"):
            User.objects.get(pk=user.pk)
        with pytest.raises(DecryptionError):
            list(User.objects.filter(pk=user.pk).values_list("name", flat=True))


def test_reading_with_a_wrong_key_under_the_same_id_raises(user):
    wrong = base64.b64encode(os.urandom(32)).decode()
    with (
        override_settings(ENCRYPTION_KEYS=f"t1:{wrong}"),
        pytest.raises(DecryptionError, match="failed authentication"),
    ):
        User.objects.get(pk=user.pk)


def test_deconstruct_round_trips_for_migrations():
    field = User._meta.get_field("name")
    _name, path, args, kwargs = field.deconstruct()
    assert path == "accounts.fields.EncryptedTextField"
    rebuilt = EncryptedTextField(*args, **kwargs)
    assert rebuilt.deconstruct()[1:] == (path, args, kwargs)


@isolate_apps("accounts")
def test_associated_data_uses_the_concrete_table_for_proxies_and_inheritance():
    class Base(models.Model):  # noqa: DJ008
        secret = EncryptedTextField(null=True)

        class Meta:
            app_label = "accounts"
            db_table = "enc_base"

    class Proxy(Base):  # noqa: DJ008
        class Meta:
            proxy = True
            app_label = "accounts"

    class Child(Base):  # noqa: DJ008
        other = EncryptedTextField(null=True)

        class Meta:
            app_label = "accounts"
            db_table = "enc_child"

    assert Proxy._meta.get_field("secret").associated_data() == b"enc_base.secret"
    assert Child._meta.get_field("secret").associated_data() == b"enc_base.secret"
    assert Child._meta.get_field("other").associated_data() == b"enc_child.other"


@isolate_apps("accounts")
def test_system_check_refuses_unique_or_indexed_encrypted_fields():
    class Bad(models.Model):  # noqa: DJ008
        a = EncryptedTextField(unique=True)
        b = EncryptedTextField(db_index=True)
        c = EncryptedTextField()

        class Meta:
            app_label = "accounts"

    ids = {f.name: [e.id for e in f.check()] for f in Bad._meta.local_fields if f.name != "id"}
    assert ids == {"a": ["accounts.E002"], "b": ["accounts.E002"], "c": []}


def test_raw_queries_and_expressions_decrypt(user):
    user.name = "Raw Reader"
    user.save(update_fields=["name"])
    raw = User.objects.raw("SELECT id, name FROM accounts_user WHERE id = %s", [user.pk])
    assert next(iter(raw)).name == "Raw Reader"
    annotated = User.objects.filter(pk=user.pk).annotate(alias=models.F("name"))
    assert annotated.values_list("alias", flat=True).get() == "Raw Reader"
