from io import StringIO

import pytest
from allauth.account.models import EmailAddress
from django.core.management import CommandError, call_command

from accounts.management.commands import demo_setup
from accounts.models import AuditEvent, Invitation, Membership, User, Workspace
from accounts.permissions import Role

pytestmark = pytest.mark.django_db

SEEN: list[tuple[User, Workspace]] = []


def recording_seeder(*, user, workspace):
    SEEN.append((user, workspace))
    return ["sample line from a seeder"]


def _run(**options) -> str:
    out = StringIO()
    call_command("demo_setup", stdout=out, **options)
    return out.getvalue()


def _demo_workspace() -> Workspace:
    return Workspace.objects.get(name=demo_setup.DEMO_WORKSPACE)


def test_refuses_to_run_with_debug_off_unless_forced(settings):
    settings.DEBUG = False

    with pytest.raises(CommandError, match="DEBUG"):
        _run()
    assert not User.objects.exists()


def test_runs_with_debug_on_without_force(settings):
    settings.DEBUG = True

    _run()

    assert User.objects.filter(email=demo_setup.DEMO_EMAIL).exists()


def test_prints_the_demo_login():
    output = _run(force=True)

    assert demo_setup.DEMO_EMAIL in output
    assert demo_setup.DEMO_PASSWORD in output
    assert "/accounts/login/" in output


def test_demo_user_has_a_verified_primary_email_and_the_printed_password():
    _run(force=True)

    user = User.objects.get(email=demo_setup.DEMO_EMAIL)
    assert user.check_password(demo_setup.DEMO_PASSWORD)
    assert EmailAddress.objects.filter(
        user=user, email=user.email, verified=True, primary=True
    ).exists()


def test_demo_login_signs_in(client):
    _run(force=True)

    response = client.post(
        "/accounts/login/",
        {"login": demo_setup.DEMO_EMAIL, "password": demo_setup.DEMO_PASSWORD},
    )

    assert response.status_code == 302
    assert client.session.get("_auth_user_id")


def test_demo_workspace_has_a_second_member_a_pending_invitation_and_audit_events():
    _run(force=True)

    workspace = _demo_workspace()
    roles = dict(Membership.objects.filter(workspace=workspace).values_list("user__email", "role"))
    assert roles == {demo_setup.DEMO_EMAIL: Role.OWNER, demo_setup.TEAMMATE_EMAIL: Role.DEVELOPER}
    pending = Invitation.objects.filter(workspace=workspace).pending()
    assert list(pending.values_list("email", flat=True)) == [demo_setup.INVITEE_EMAIL]
    actions = set(
        AuditEvent.objects.filter(workspace_id=workspace.pk).values_list("action", flat=True)
    )
    assert {
        "workspace.created",
        "invitation.sent",
        "invitation.accepted",
        "workspace.settings_updated",
    } <= actions


def test_running_twice_creates_nothing_new():
    _run(force=True)
    counts = (
        User.objects.count(),
        Workspace.objects.count(),
        Membership.objects.count(),
        Invitation.objects.count(),
        AuditEvent.objects.count(),
        EmailAddress.objects.count(),
    )

    output = _run(force=True)

    assert counts == (
        User.objects.count(),
        Workspace.objects.count(),
        Membership.objects.count(),
        Invitation.objects.count(),
        AuditEvent.objects.count(),
        EmailAddress.objects.count(),
    )
    assert demo_setup.DEMO_PASSWORD in output


def test_calls_every_registered_seeder_with_the_demo_user_and_workspace(monkeypatch):
    SEEN.clear()
    monkeypatch.setattr(
        demo_setup, "DEMO_SEEDERS", [f"{__name__}.recording_seeder", f"{__name__}.recording_seeder"]
    )

    output = _run(force=True)

    workspace = _demo_workspace()
    assert [(user.email, ws.pk) for user, ws in SEEN] == [(demo_setup.DEMO_EMAIL, workspace.pk)] * 2
    assert "sample line from a seeder" in output
