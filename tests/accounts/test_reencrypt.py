import base64
import os

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import override_settings

from accounts.audit import Action, audit_chain_verify, audit_checkpoint_write, audit_record
from accounts.crypto import DecryptionError
from accounts.encryption import encrypted_fields, encrypted_values_reencrypt
from accounts.models import AuditEvent, User
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

KEY_A = "A:" + base64.b64encode(os.urandom(32)).decode()
KEY_B = "B:" + base64.b64encode(os.urandom(32)).decode()


def _raw_column(table: str, column: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {column} FROM {table} WHERE {column} IS NOT NULL ORDER BY id"  # noqa: S608
        )
        return [row[0] for row in cursor.fetchall()]


def _write_under_key_a(count: int = 7):
    with override_settings(ENCRYPTION_KEYS=KEY_A):
        users = [UserFactory(name=f"Rotation Person {i}") for i in range(count)]
        events = [
            audit_record(action=Action.LOGIN, actor=u, ip_address=f"203.0.113.{i}")
            for i, u in enumerate(users)
        ]
    return users, events


def test_key_rotation_end_to_end():
    users, events = _write_under_key_a()
    assert all(t.startswith("enc1:A:") for t in _raw_column("accounts_user", "name"))

    with override_settings(ENCRYPTION_KEYS=f"{KEY_B},{KEY_A}"):
        call_command("reencrypt", batch_size=3)

    with override_settings(ENCRYPTION_KEYS=KEY_B):
        for i, user in enumerate(users):
            assert User.objects.get(pk=user.pk).name == f"Rotation Person {i}"
        for i, event in enumerate(events):
            assert AuditEvent.objects.get(pk=event.pk).ip_address == f"203.0.113.{i}"
        names = _raw_column("accounts_user", "name")
        ips = _raw_column("accounts_auditevent", "ip_address")
        assert len(names) == len(users) and len(ips) == len(events)
        for token in names + ips:
            assert token.startswith("enc1:B:")
            assert "Rotation" not in token and "203.0.113" not in token
        checked, broken = audit_chain_verify()
        assert broken is None and checked == len(events)

    with override_settings(ENCRYPTION_KEYS="C:" + base64.b64encode(os.urandom(32)).decode()):
        with pytest.raises(DecryptionError, match="'B', which is not in ENCRYPTION_KEYS") as exc:
            User.objects.get(pk=users[0].pk)
        assert "enc1:" not in str(exc.value)
        with pytest.raises(DecryptionError):
            AuditEvent.objects.get(pk=events[0].pk)


def test_reencrypt_reports_counts_and_is_idempotent(capsys):
    _write_under_key_a(count=4)
    with override_settings(ENCRYPTION_KEYS=f"{KEY_B},{KEY_A}"):
        call_command("reencrypt", batch_size=2)
        first = capsys.readouterr().out
        assert "accounts.User.name: 4 scanned, 4 re-encrypted, 0 already current" in first
        assert "accounts.AuditEvent.ip_address: 4 scanned, 4 re-encrypted" in first
        call_command("reencrypt")
        second = capsys.readouterr().out
        assert "accounts.User.name: 4 scanned, 0 re-encrypted, 4 already current" in second
        assert "accounts.AuditEvent.ip_address: 4 scanned, 0 re-encrypted, 4 already" in second


def test_dry_run_changes_nothing(capsys):
    _write_under_key_a(count=3)
    before = _raw_column("accounts_user", "name")
    with override_settings(ENCRYPTION_KEYS=f"{KEY_B},{KEY_A}"):
        call_command("reencrypt", dry_run=True)
    assert "accounts.User.name: 3 scanned, 3 would re-encrypt" in capsys.readouterr().out
    assert _raw_column("accounts_user", "name") == before


def test_missing_old_key_stops_the_run_with_a_clear_error():
    _write_under_key_a(count=2)
    with override_settings(ENCRYPTION_KEYS=KEY_B), pytest.raises(CommandError, match="'A'"):
        call_command("reencrypt")
    assert all(t.startswith("enc1:A:") for t in _raw_column("accounts_user", "name"))


def test_null_values_are_left_alone():
    with override_settings(ENCRYPTION_KEYS=KEY_A):
        user = UserFactory()
        event = audit_record(action=Action.LOGIN, actor=user, ip_address=None, actor_email="")
    with override_settings(ENCRYPTION_KEYS=f"{KEY_B},{KEY_A}"):
        results = encrypted_values_reencrypt(models=[AuditEvent])
    assert [(r.field, r.scanned, r.reencrypted) for r in results] == [
        ("actor_email", 0, 0),
        ("ip_address", 0, 0),
    ]
    with override_settings(ENCRYPTION_KEYS=KEY_B):
        assert AuditEvent.objects.get(pk=event.pk).ip_address is None
        assert AuditEvent.objects.get(pk=event.pk).actor_email is None


def test_audit_emails_are_encrypted_and_rotate_without_breaking_the_chain():
    with override_settings(ENCRYPTION_KEYS=KEY_A):
        user = UserFactory()
        event = audit_record(action=Action.LOGIN, actor=user, ip_address="203.0.113.9")
        audit_checkpoint_write()
    [token] = [t for t in _raw_column("accounts_auditevent", "actor_email") if t]
    assert token.startswith("enc1:A:") and user.email not in token
    with override_settings(ENCRYPTION_KEYS=f"{KEY_B},{KEY_A}"):
        results = encrypted_values_reencrypt(models=[AuditEvent])
    assert [(r.field, r.reencrypted) for r in results] == [("actor_email", 1), ("ip_address", 1)]
    with override_settings(ENCRYPTION_KEYS=KEY_B):
        stored = AuditEvent.objects.get(pk=event.pk)
        assert (stored.actor_email, stored.ip_address) == (user.email, "203.0.113.9")
        assert audit_chain_verify()[1] is None


def test_every_encrypted_column_of_every_app_is_covered():
    covered = {(m._meta.label, f.name) for m, f in encrypted_fields()}
    assert {
        ("accounts.User", "name"),
        ("accounts.AuditEvent", "ip_address"),
        ("accounts.AuditEvent", "actor_email"),
    } <= covered
    from django.apps import apps

    from accounts.fields import EncryptedTextField

    expected = {
        (m._meta.label, f.name)
        for m in apps.get_models()
        if not m._meta.proxy
        for f in m._meta.local_concrete_fields
        if isinstance(f, EncryptedTextField)
    }
    assert covered == expected


def test_audit_guard_still_refuses_ip_changes_outside_reencryption(user):
    event = audit_record(action=Action.LOGIN, actor=user, ip_address="192.0.2.1")
    with pytest.raises(Exception, match="append-only"), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE accounts_auditevent SET ip_address = 'enc1:x:y' WHERE id = %s", [event.pk]
        )
