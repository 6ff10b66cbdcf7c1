"""Key services: rules, rights, audit events, leaked-key reports, expiry notices."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from accounts.audit import Action
from accounts.errors import DomainError, Forbidden, NotFound
from accounts.models import AuditEvent
from accounts.permissions import Role
from accounts.services import workspace_settings_update
from apikeys.keys.models import ApiKey
from apikeys.keys.services import (
    api_key_create,
    api_key_delete,
    api_key_expiry_notices_send,
    api_key_report_leaked,
    api_key_revoke,
    api_key_rotate,
    api_key_update,
)
from apikeys.keys.verification import verify
from tests.factories import UserFactory, add_member
from tests.support import staff_member

pytestmark = pytest.mark.django_db(transaction=True)


def _actions(workspace):
    return list(
        AuditEvent.objects.filter(workspace_id=workspace.pk, action__startswith="api_key.")
        .order_by("id")
        .values_list("action", flat=True)
    )


def test_every_key_action_writes_an_audit_event(make_key, workspace, user):
    api_key, _full = make_key()
    api_key_update(api_key=api_key, actor=user, name="Renamed")
    api_key, _new = api_key_rotate(api_key=api_key, actor=user, grace="1h")
    api_key_revoke(api_key=api_key, actor=user)
    api_key_delete(api_key=api_key, actor=user)
    assert _actions(workspace) == [
        Action.API_KEY_CREATED,
        Action.API_KEY_UPDATED,
        Action.API_KEY_ROTATED,
        Action.API_KEY_REVOKED,
        Action.API_KEY_DELETED,
    ]


def test_only_the_hash_is_stored(make_key):
    api_key, full = make_key()
    stored = ApiKey.objects.filter(pk=api_key.pk).values().get()
    assert full not in str(stored)
    assert full.split("_")[3][:43] not in str(stored)
    assert len(api_key.secret_hash) == 64 and api_key.pepper_id == "tp1"


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"scopes": ["inference", "root"]}, "scopes"),
        ({"scopes": []}, "scopes"),
        ({"allowed_ips": ["10.0.0.0/33"]}, "allowed_ips"),
        ({"allowed_ips": ["hello"]}, "allowed_ips"),
        ({"requests_per_minute": 0}, "requests_per_minute"),
        ({"tokens_per_minute": -5}, "tokens_per_minute"),
        ({"name": "  "}, "name"),
        ({"environment": "staging"}, "environment"),
    ],
)
def test_bad_input_is_refused_and_creates_nothing(make_key, kwargs, field):
    with pytest.raises(DomainError) as caught:
        make_key(**kwargs)
    assert field in caught.value.fields
    assert not ApiKey.objects.exists()


def test_expiry_is_capped_by_the_workspace_maximum_lifetime(make_key, workspace, user):
    workspace_settings_update(workspace=workspace, actor=user, max_key_lifetime_days=30)
    with pytest.raises(DomainError):
        make_key(expires_at=timezone.now() + timedelta(days=31))
    api_key, _ = make_key()
    assert api_key.expires_at is not None
    assert api_key.expires_at <= timezone.now() + timedelta(days=30)


def test_developer_manages_own_keys_only_and_admin_manages_all(make_key, workspace):
    developer = add_member(workspace, Role.DEVELOPER).user
    admin = add_member(workspace, Role.ADMIN).user
    owners_key, _ = make_key()
    own_key, _ = make_key(actor=developer)
    api_key_update(api_key=own_key, actor=developer, name="Mine")
    with pytest.raises(Forbidden):
        api_key_revoke(api_key=owners_key, actor=developer)
    api_key_revoke(api_key=own_key, actor=admin)
    assert ApiKey.objects.get(pk=own_key.pk).revoked_at is not None


def test_viewers_cannot_create_and_strangers_get_not_found(workspace):
    viewer = add_member(workspace, Role.VIEWER).user
    with pytest.raises(Forbidden):
        api_key_create(
            workspace=workspace,
            actor=viewer,
            name="x",
            environment="development",
            scopes=["inference"],
        )
    with pytest.raises(NotFound):
        api_key_create(
            workspace=workspace,
            actor=UserFactory(),
            name="x",
            environment="development",
            scopes=["inference"],
        )
    assert not ApiKey.objects.exists()


def test_leaked_key_report_revokes_emails_owners_and_audits(make_key, workspace, user):
    api_key, full = make_key()
    mail.outbox.clear()
    api_key_report_leaked(key=full, source="scanner.example")
    assert verify(full).code == "revoked"
    assert ApiKey.objects.get(pk=api_key.pk).revoked_reason == "leaked"
    assert [m.to for m in mail.outbox] == [[user.email]]
    assert full not in mail.outbox[0].body
    assert Action.API_KEY_LEAK_REPORTED in _actions(workspace)


def test_leaked_report_of_a_wrong_secret_changes_nothing(make_key, workspace):
    api_key, full = make_key()
    forged = full[:20] + ("A" if full[20] != "A" else "B") + full[21:]
    api_key_report_leaked(key=forged, source="x")
    api_key_report_leaked(key="garbage", source="x")
    assert ApiKey.objects.get(pk=api_key.pk).revoked_at is None
    assert verify(full).valid


def test_staff_revoke_a_key_only_in_the_role_that_may(make_key):
    api_key, full = make_key()
    for actor in (UserFactory(), UserFactory(is_staff=True)):
        with pytest.raises(NotFound):
            api_key_revoke(api_key=api_key, actor=actor, by_staff=True)
    security = staff_member("Security")
    api_key_revoke(api_key=api_key, actor=security, reason="revoked_by_staff", by_staff=True)
    assert verify(full).code == "revoked"


def test_a_leak_report_filed_by_staff_names_them_and_returns_the_revoked_key(make_key):
    api_key, full = make_key()
    staff = UserFactory(is_staff=True)
    revoked = api_key_report_leaked(key=full, source="mail to security", actor=staff)
    assert revoked.pk == api_key.pk and revoked.revoked_reason == "leaked"
    event = AuditEvent.objects.get(action=Action.API_KEY_LEAK_REPORTED)
    assert event.actor_id == staff.pk and event.metadata["by_staff"] is True
    assert api_key_report_leaked(key=full, source="again", actor=staff) is None
    assert api_key_report_leaked(key="garbage", actor=staff) is None


def test_expiry_notices_go_out_once_at_seven_days_and_at_one_day(make_key, user):
    now = timezone.now()
    make_key(expires_at=now + timedelta(days=6, hours=12))
    mail.outbox.clear()
    assert api_key_expiry_notices_send(now=now) == 1
    assert api_key_expiry_notices_send(now=now) == 0
    assert len(mail.outbox) == 1 and user.email in mail.outbox[0].to
    assert api_key_expiry_notices_send(now=now + timedelta(days=5, hours=13)) == 1
    assert api_key_expiry_notices_send(now=now + timedelta(days=5, hours=14)) == 0
    assert len(mail.outbox) == 2


def test_a_key_expiring_within_a_day_gets_one_notice_not_two(make_key):
    now = timezone.now()
    make_key(expires_at=now + timedelta(hours=10))
    mail.outbox.clear()
    assert api_key_expiry_notices_send(now=now) == 1
    assert len(mail.outbox) == 1


@pytest.mark.parametrize("name", ["leaky\nBcc: attacker@example.net", "a\tb", "a \u202eb"])
def test_a_key_name_with_control_or_direction_characters_is_refused(make_key, user, name):
    with pytest.raises(DomainError):
        make_key(name=name)
    api_key, _full = make_key(name="Original")
    with pytest.raises(DomainError):
        api_key_update(api_key=api_key, actor=user, name=name)
    assert list(ApiKey.objects.values_list("name", flat=True)) == ["Original"]


def test_the_leak_alert_reaches_the_owners_even_for_a_name_stored_before_names_were_checked(
    make_key, workspace, user
):
    api_key, full = make_key()
    ApiKey.objects.filter(pk=api_key.pk).update(name="leaky\nBcc: attacker@example.net")
    mail.outbox.clear()
    api_key_report_leaked(key=full, source="scanner\r\nX-Evil: 1")
    [message] = mail.outbox
    assert message.to == [user.email]
    assert message.recipients() == [user.email]
    assert "\n" not in message.subject and "\r" not in message.subject
    assert "leaky Bcc: attacker@example.net" in message.subject
    headers = message.message().as_string().split("\n\n", 1)[0]
    assert "\nBcc:" not in headers and "\nX-Evil:" not in headers
