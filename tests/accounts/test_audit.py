import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.db.models import Q

from accounts.audit import (
    Action,
    audit_chain_verify,
    audit_erase_personal_data,
    audit_erase_personal_data_batch,
    audit_record,
)
from accounts.models import AuditEvent

pytestmark = pytest.mark.django_db


def _three_events(user):
    return [
        audit_record(action=Action.LOGIN, actor=user, ip_address="203.0.113.7", user_agent="UA")
        for _ in range(3)
    ]


def test_chain_links_each_event_to_the_previous_hash(user):
    events = _three_events(user)
    assert events[1].prev_hash == events[0].entry_hash
    assert events[2].prev_hash == events[1].entry_hash
    checked, broken = audit_chain_verify()
    assert broken is None
    assert checked == AuditEvent.objects.count()


def test_database_refuses_update_and_delete(user):
    event = _three_events(user)[0]
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(action="account.logout")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        # The throwaway test database allows TRUNCATE for flushing; production does not.
        cursor.execute("SET LOCAL console.allow_audit_truncate = 'off'")
        cursor.execute("TRUNCATE accounts_auditevent")
    assert AuditEvent.objects.get(pk=event.pk).action == Action.LOGIN


def test_erasing_personal_data_keeps_the_chain_valid(user):
    _three_events(user)
    assert audit_erase_personal_data(user_id=user.pk) >= 3
    event = AuditEvent.objects.filter(actor_id=user.pk).first()
    assert event.ip_address is None and event.user_agent == "" and event.actor_email is None
    assert audit_chain_verify()[1] is None


def test_erasing_in_batches_goes_in_id_order_and_says_where_it_stopped(user):
    _three_events(user)
    about = AuditEvent.objects.filter(Q(actor_id=user.pk) | Q(subject_user_id=user.pk))
    about = about.order_by("id")
    ids = list(about.values_list("id", flat=True))

    erased, last_id = audit_erase_personal_data_batch(user_id=user.pk, after_id=0, limit=4)

    # A batch ends at the second event (limit/2) as actor or as subject.
    assert last_id is not None and ids.index(last_id) <= 1
    assert erased == ids.index(last_id) + 1
    assert [e.user_agent == "" for e in about][erased:] == [False] * (len(ids) - erased)
    total = erased
    while last_id is not None:
        erased, last_id = audit_erase_personal_data_batch(
            user_id=user.pk, after_id=last_id, limit=4
        )
        assert erased <= 4
        total += erased
    assert total == len(ids)
    assert not about.exclude(user_agent="").exists()
    assert audit_chain_verify()[1] is None


def test_a_batch_holds_at_most_its_limit_of_events(user):
    other = type(user).objects.create_user(email="other@example.com", password="x" * 16)
    # Alternate: events by the user about someone else, then by someone else about them.
    for _ in range(6):
        audit_record(action=Action.LOGIN, actor=user, subject_user=other, user_agent="UA")
        audit_record(action=Action.LOGIN, actor=other, subject_user=user, user_agent="UA")

    sizes, last_id = [], 0
    while last_id is not None:
        erased, last_id = audit_erase_personal_data_batch(
            user_id=user.pk, after_id=last_id, limit=4
        )
        sizes.append(erased)

    assert max(sizes) <= 4
    assert (
        sum(sizes)
        == AuditEvent.objects.filter(Q(actor_id=user.pk) | Q(subject_user_id=user.pk)).count()
    )


def _hot_updates() -> tuple[int, int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables "
            "WHERE relname = 'accounts_auditevent'"
        )
        return cursor.fetchone()


def test_erasing_personal_data_is_a_heap_only_update(user):
    """The table's fill factor leaves room for the erased versions (no index writes)."""
    for _ in range(200):
        audit_record(
            action=Action.LOGIN,
            actor=user,
            ip_address="203.0.113.7",
            user_agent="Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0",
        )
    updates, hot = _hot_updates()

    erased = audit_erase_personal_data(user_id=user.pk)

    after_updates, after_hot = _hot_updates()
    assert erased >= 200
    assert after_updates - updates == erased
    assert after_hot - hot == erased


def _bypass_guards(sql: str, params=()):
    """Tamper as a database superuser would: with triggers switched off for the session."""
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        try:
            cursor.execute(sql, params)
        finally:
            cursor.execute("SET session_replication_role = DEFAULT")


def test_audit_verify_names_the_first_edited_event(user):
    events = _three_events(user)
    _bypass_guards(
        "UPDATE accounts_auditevent SET action = 'account.logout' WHERE id = %s", [events[1].pk]
    )
    with pytest.raises(SystemExit) as exc:
        call_command("audit_verify")
    assert exc.value.code != 0
    _checked, broken = audit_chain_verify()
    assert broken.event_id == events[1].pk
    assert "edited" in broken.reason


def test_audit_verify_detects_a_deleted_event(user, capsys):
    events = _three_events(user)
    _bypass_guards("DELETE FROM accounts_auditevent WHERE id = %s", [events[1].pk])
    with pytest.raises(SystemExit) as exc:
        call_command("audit_verify")
    assert exc.value.code == 1
    assert f"event {events[2].pk}" in capsys.readouterr().err


def test_audit_verify_passes_on_an_intact_chain(user, capsys):
    _three_events(user)
    call_command("audit_verify")
    assert "intact" in capsys.readouterr().out
