"""The keyed chain and its checkpoints: what someone who can switch triggers off can hide."""

import base64
import json
import logging
import os
from datetime import datetime

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.test import override_settings

from accounts.audit import (
    GENESIS_HASH,
    Action,
    audit_chain_verify,
    audit_checkpoint_write,
    audit_record,
    canonical_content,
    chain_hash,
)
from accounts.crypto import LEGACY_CHAIN_KID
from accounts.models import AuditCheckpoint, AuditEvent
from accounts.tasks import audit_checkpoint

pytestmark = pytest.mark.django_db


def _key(kid: str) -> str:
    return f"{kid}:{base64.b64encode(os.urandom(32)).decode()}"


def _events(user, n=3):
    return [
        audit_record(action=Action.LOGIN, actor=user, ip_address="203.0.113.7") for _ in range(n)
    ]


def _as_attacker(sql: str, params=()):
    """Tamper as the database owner would: with every trigger switched off."""
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        try:
            cursor.execute(sql, params)
        finally:
            cursor.execute("SET session_replication_role = DEFAULT")


def _verify(capsys, *args) -> str:
    with pytest.raises(SystemExit) as exc:
        call_command("audit_verify", *args)
    assert exc.value.code == 1
    return capsys.readouterr().err


def test_the_chain_is_keyed_so_an_unkeyed_recomputation_does_not_verify(user):
    event = _events(user, 1)[0]
    assert event.chain_key_id == "ta1"
    content = canonical_content(
        occurred_at=event.occurred_at,
        action=event.action,
        actor_id=event.actor_id,
        workspace_id=event.workspace_id,
        subject_user_id=event.subject_user_id,
        target_type=event.target_type,
        target_id=event.target_id,
        metadata=event.metadata,
    )
    assert event.entry_hash == chain_hash(event.prev_hash, content, key_id="ta1")
    assert event.entry_hash != chain_hash(event.prev_hash, content, key_id=LEGACY_CHAIN_KID)
    with override_settings(AUDIT_CHAIN_KEYS=_key("ta1")):
        assert event.entry_hash != chain_hash(event.prev_hash, content, key_id="ta1")


def test_an_edit_recomputed_without_the_key_is_named(user, capsys):
    events = _events(user)
    # The attacker relabels the event as legacy and recomputes the plain SHA-256.
    forged = chain_hash(
        events[1].prev_hash,
        canonical_content(
            occurred_at=events[1].occurred_at,
            action=Action.LOGOUT,
            actor_id=events[1].actor_id,
            workspace_id=None,
            subject_user_id=events[1].subject_user_id,
            target_type="",
            target_id="",
            metadata={},
        ),
    )
    _as_attacker(
        "UPDATE accounts_auditevent SET action = %s, chain_key_id = %s, entry_hash = %s "
        "WHERE id = %s",
        [Action.LOGOUT, LEGACY_CHAIN_KID, forged, events[1].pk],
    )
    _checked, broken = audit_chain_verify()
    assert broken.event_id == events[1].pk
    assert "unkeyed" in broken.reason


def test_rotating_the_chain_key_keeps_older_events_verifying(user):
    old = _events(user, 2)
    new_key = _key("ta2")
    with override_settings(AUDIT_CHAIN_KEYS=f"{new_key},{settings.AUDIT_CHAIN_KEYS}"):
        audit_checkpoint_write()
        new = _events(user, 2)
        assert [e.chain_key_id for e in old + new] == ["ta1", "ta1", "ta2", "ta2"]
        audit_checkpoint_write()
        assert audit_chain_verify() == (4, None)
    # Without the key that chained them, the newer events cannot be vouched for.
    _checked, broken = audit_chain_verify()
    assert "'ta2' is not in AUDIT_CHAIN_KEYS" in broken.reason


def test_events_chained_before_the_chain_was_keyed_keep_verifying(user):
    with connection.cursor() as cursor:
        occurred = "2024-01-01T00:00:00+00:00"
        prev = GENESIS_HASH
        for _ in range(2):
            content = canonical_content(
                occurred_at=datetime.fromisoformat(occurred),
                action=Action.LOGIN,
                actor_id=None,
                workspace_id=None,
                subject_user_id=None,
                target_type="",
                target_id="",
                metadata={},
            )
            entry = chain_hash(prev, content, key_id=LEGACY_CHAIN_KID)
            cursor.execute(
                "INSERT INTO accounts_auditevent (occurred_at, action, target_type, target_id, "
                "metadata, prev_hash, entry_hash, chain_key_id, user_agent) "
                "VALUES (%s, %s, '', '', '{}', %s, %s, 'legacy', '')",
                [occurred, Action.LOGIN, prev, entry],
            )
            prev = entry
    _events(user, 2)
    assert audit_chain_verify() == (4, None)


def test_a_checkpoint_records_the_head_in_its_table_and_on_its_logger(user, caplog):
    events = _events(user)
    with caplog.at_level(logging.INFO, logger="console.audit.checkpoint"):
        audit_checkpoint()
    checkpoint = AuditCheckpoint.objects.get()
    assert checkpoint.last_event_id == events[-1].pk
    assert checkpoint.event_count == AuditEvent.objects.count()
    assert checkpoint.head_hash == events[-1].entry_hash
    assert checkpoint.key_id == "ta1"
    [line] = [r.getMessage() for r in caplog.records if r.name == "console.audit.checkpoint"]
    logged = json.loads(line[line.index("{") :])
    assert logged["checkpoint_id"] == checkpoint.pk
    assert logged["head_hash"] == checkpoint.head_hash
    assert logged["event_count"] == checkpoint.event_count
    # Nothing new: no new row, but the log still hears the log is alive.
    with caplog.at_level(logging.INFO, logger="console.audit.checkpoint"):
        audit_checkpoint_write()
    assert AuditCheckpoint.objects.count() == 1
    assert len([r for r in caplog.records if r.name == "console.audit.checkpoint"]) == 2


def test_checkpoints_refuse_update_and_delete(user):
    _events(user, 1)
    checkpoint = audit_checkpoint_write()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditCheckpoint.objects.filter(pk=checkpoint.pk).update(event_count=0)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditCheckpoint.objects.filter(pk=checkpoint.pk).delete()
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("SET LOCAL console.allow_audit_truncate = 'off'")
        cursor.execute("TRUNCATE accounts_auditcheckpoint")


def test_audit_verify_detects_a_missing_tail_and_names_the_checkpoint(user, capsys):
    events = _events(user, 4)
    checkpoint = audit_checkpoint_write()
    _as_attacker("DELETE FROM accounts_auditevent WHERE id >= %s", [events[2].pk])
    # The rest of the chain still links: only the checkpoint shows what went.
    err = _verify(capsys)
    assert f"checkpoint {checkpoint.pk}" in err
    assert "missing tail" in err
    assert f"ends at event {events[1].pk}" in err


def test_audit_verify_detects_a_missing_middle(user, capsys):
    events = _events(user, 4)
    audit_checkpoint_write()
    _as_attacker("DELETE FROM accounts_auditevent WHERE id = %s", [events[1].pk])
    err = _verify(capsys)
    assert f"event {events[2].pk}" in err
    assert "deleted" in err


def test_audit_verify_detects_a_deleted_checkpoint_head_event(user, capsys):
    events = _events(user, 2)
    checkpoint = audit_checkpoint_write()
    _events(user, 2)
    _as_attacker("DELETE FROM accounts_auditevent WHERE id = %s", [events[1].pk])
    _checked, broken = audit_chain_verify()
    assert broken.checkpoint_id == checkpoint.pk and broken.event_id == events[1].pk
    assert "head event was deleted" in broken.reason


def test_audit_verify_names_an_edited_row(user, capsys):
    events = _events(user)
    audit_checkpoint_write()
    _as_attacker(
        "UPDATE accounts_auditevent SET action = 'account.logout' WHERE id = %s", [events[1].pk]
    )
    err = _verify(capsys)
    assert f"event {events[1].pk}" in err and "edited" in err


def test_audit_verify_detects_a_checkpoint_deleted_from_the_middle(user, capsys):
    _events(user, 1)
    audit_checkpoint_write()
    _events(user, 1)
    middle = audit_checkpoint_write()
    _events(user, 1)
    last = audit_checkpoint_write()
    _as_attacker("DELETE FROM accounts_auditcheckpoint WHERE id = %s", [middle.pk])
    err = _verify(capsys)
    assert f"checkpoint {last.pk}" in err and "deleted" in err


def test_audit_verify_detects_an_edited_checkpoint(user, capsys):
    _events(user, 2)
    checkpoint = audit_checkpoint_write()
    _as_attacker(
        "UPDATE accounts_auditcheckpoint SET event_count = 1 WHERE id = %s", [checkpoint.pk]
    )
    err = _verify(capsys)
    assert f"checkpoint {checkpoint.pk}" in err and "edited" in err


def test_the_copy_held_outside_catches_a_tail_deleted_with_its_checkpoints(
    user, capsys, caplog, tmp_path
):
    _events(user, 2)
    audit_checkpoint_write()
    tail = _events(user, 2)
    with caplog.at_level(logging.INFO, logger="console.audit.checkpoint"):
        shipped = audit_checkpoint_write()
    held = tmp_path / "checkpoints.log"
    held.write_text(
        "".join(
            r.getMessage() + "\n" for r in caplog.records if r.name == "console.audit.checkpoint"
        )
    )
    call_command("audit_verify", "--expect", str(held))
    assert "intact" in capsys.readouterr().out

    _as_attacker("DELETE FROM accounts_auditevent WHERE id >= %s", [tail[0].pk])
    _as_attacker("DELETE FROM accounts_auditcheckpoint WHERE id = %s", [shipped.pk])
    assert audit_chain_verify()[1] is None  # what is left in the database is consistent
    err = _verify(capsys, "--expect", str(held))
    assert f"checkpoint {shipped.pk}" in err and "missing from the checkpoint table" in err


@pytest.mark.django_db(transaction=True)
def test_a_burst_of_events_writes_a_checkpoint_when_it_commits(user):
    with override_settings(AUDIT_CHECKPOINT_EVERY=5):
        with transaction.atomic():
            events = _events(user, 5)
            assert not AuditCheckpoint.objects.exists()
        checkpoint = AuditCheckpoint.objects.get()
    assert checkpoint.last_event_id == events[-1].pk
    assert checkpoint.event_count == AuditEvent.objects.count()
    assert audit_chain_verify()[1] is None


def test_the_migration_encrypts_existing_emails_and_keeps_the_chain(user):
    import importlib

    from django.apps import apps

    migration = importlib.import_module("accounts.migrations.0007_audit_guards_least_privilege")
    events = _events(user, 2)
    # Rows as they were before the migration: the email in plain text, or empty.
    _as_attacker(
        "UPDATE accounts_auditevent SET actor_email = CASE id WHEN %s THEN %s ELSE '' END "
        "WHERE id IN (%s, %s)",
        [events[0].pk, "plain@example.com", events[0].pk, events[1].pk],
    )
    migration._encrypt_actor_emails(apps, type("Editor", (), {"connection": connection})())

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT actor_email FROM accounts_auditevent WHERE id IN (%s, %s) ORDER BY id",
            [events[0].pk, events[1].pk],
        )
        raw = [row[0] for row in cursor.fetchall()]
    assert raw[0].startswith("enc1:t1:") and "plain" not in raw[0]
    assert raw[1] is None
    assert AuditEvent.objects.get(pk=events[0].pk).actor_email == "plain@example.com"
    assert audit_chain_verify()[1] is None
