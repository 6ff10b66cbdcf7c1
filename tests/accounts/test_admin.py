import pytest
from allauth.mfa.models import Authenticator
from allauth.usersessions.models import UserSession
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse

from accounts.audit import Action, audit_record
from accounts.models import AuditEvent, Invitation
from accounts.services import invitation_create, workspace_delete
from tests.factories import DEFAULT_PASSWORD, UserFactory, WorkspaceFactory
from tests.support import admin_client_with_mfa, staff_member, totp_code, with_totp

pytestmark = pytest.mark.django_db

ADMIN_INDEX = "/admin/"


@pytest.fixture
def staff(db):
    return UserFactory(is_staff=True)


@pytest.fixture
def support(db):
    return staff_member("Support")


@pytest.fixture
def security(db):
    return staff_member("Security")


@pytest.fixture
def superuser(db):
    return UserFactory(is_staff=True, is_superuser=True)


# ---------------------------------------------------------------------------- MFA gate


def test_anonymous_admin_login_goes_through_allauth_login(client):
    response = client.get(ADMIN_INDEX, follow=True)
    final_url, _status = response.redirect_chain[-1]
    assert final_url.startswith(reverse("account_login"))
    assert "next=%2Fadmin%2F" in final_url
    login = client.get(reverse("admin:login"))
    assert "no-cache" in login["Cache-Control"]


def test_staff_without_mfa_is_sent_to_mfa_setup_with_a_message(client, staff):
    client.force_login(staff)
    response = client.get(ADMIN_INDEX)
    assert response.status_code == 302
    response = client.get(response["Location"])
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("mfa_activate_totp"))
    messages = [str(m) for m in response.wsgi_request._messages]
    assert any("requires two-factor authentication" in m for m in messages)


def test_staff_with_totp_who_signed_in_with_password_and_code_reaches_the_admin(staff):
    secret = with_totp(staff)
    client = Client()
    response = client.post(
        reverse("account_login"), {"login": staff.email, "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_authenticate")
    # The password alone does not open the admin.
    assert client.get(ADMIN_INDEX).status_code == 302
    response = client.post(reverse("mfa_authenticate"), {"code": totp_code(secret)})
    assert response.status_code == 302
    response = client.get(ADMIN_INDEX)
    assert response.status_code == 200
    assert b"Console support" in response.content


def test_staff_session_without_completed_mfa_must_confirm_mfa_first(client, staff):
    with_totp(staff)
    client.force_login(staff)
    response = client.get(ADMIN_INDEX, follow=True)
    final_url, _status = response.redirect_chain[-1]
    assert final_url.startswith(reverse("mfa_reauthenticate"))
    assert client.get(reverse("admin:accounts_auditevent_changelist")).status_code == 302


def test_non_staff_is_refused_at_the_admin_login(client, user):
    client.force_login(user)
    response = client.get(ADMIN_INDEX, follow=True)
    assert response.status_code == 403


def test_staff_with_mfa_completed_gets_the_admin_index(staff):
    assert admin_client_with_mfa(staff).get(ADMIN_INDEX).status_code == 200


# ---------------------------------------------------------------------------- audit log


def test_security_member_can_view_but_not_delete_audit_events(security, user):
    event = audit_record(action=Action.LOGIN, actor=user, ip_address="198.51.100.23")
    client = admin_client_with_mfa(security)
    listing = client.get(reverse("admin:accounts_auditevent_changelist"))
    assert listing.status_code == 200
    assert b"198.51.100.23" in listing.content
    assert b"delete_selected" not in listing.content
    detail = client.get(reverse("admin:accounts_auditevent_change", args=[event.pk]))
    assert detail.status_code == 200
    delete_url = reverse("admin:accounts_auditevent_delete", args=[event.pk])
    assert client.get(delete_url).status_code == 403
    assert client.post(delete_url, {"post": "yes"}).status_code == 403
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_superuser_can_neither_add_change_nor_delete_audit_events(superuser, user):
    event = audit_record(action=Action.LOGIN, actor=user)
    client = admin_client_with_mfa(superuser)
    change_url = reverse("admin:accounts_auditevent_change", args=[event.pk])
    page = client.get(change_url)
    assert page.status_code == 200
    assert b'name="_save"' not in page.content
    assert client.post(change_url, {"action": "account.logout"}).status_code == 403
    delete_url = reverse("admin:accounts_auditevent_delete", args=[event.pk])
    assert client.post(delete_url, {"post": "yes"}).status_code == 403
    assert client.get(reverse("admin:accounts_auditevent_add")).status_code == 403
    event.refresh_from_db()
    assert event.action == Action.LOGIN


def test_audit_events_can_be_filtered_by_action(security, user):
    audit_record(action=Action.LOGIN, actor=user, target_id="login-event")
    audit_record(action=Action.LOGOUT, actor=user, target_id="logout-event")
    client = admin_client_with_mfa(security)
    url = reverse("admin:accounts_auditevent_changelist")
    page = client.get(url, {"action__exact": Action.LOGOUT})
    assert b"logout-event" in page.content and b"login-event" not in page.content
    page = client.get(url, {"q": "login-event"})
    assert b"login-event" in page.content and b"logout-event" not in page.content


# ---------------------------------------------------------------------------- users


def test_user_admin_pages_never_show_the_password_hash(support, user):
    client = admin_client_with_mfa(support)
    user.refresh_from_db()
    assert user.password
    for url in (
        reverse("admin:accounts_user_changelist"),
        reverse("admin:accounts_user_change", args=[user.pk]),
    ):
        page = client.get(url)
        assert page.status_code == 200
        assert user.password.encode() not in page.content
        assert user.password.split("$")[-1].encode() not in page.content
        assert b'name="password"' not in page.content


def test_user_list_shows_name_and_mfa_state(support):
    customer = UserFactory(name="Katherine Johnson")
    with_totp(customer)
    page = admin_client_with_mfa(support).get(
        reverse("admin:accounts_user_changelist"), {"q": customer.email}
    )
    assert b"Katherine Johnson" in page.content
    assert b"MFA enabled" in page.content
    assert page.context["cl"].result_list[0].has_totp is True


def test_support_cannot_edit_add_or_delete_users_directly(support, user):
    client = admin_client_with_mfa(support)
    change_url = reverse("admin:accounts_user_change", args=[user.pk])
    response = client.post(change_url, {"email": "hijack@example.com", "is_staff": "on"})
    assert response.status_code == 403
    assert client.get(reverse("admin:accounts_user_add")).status_code == 403
    delete_url = reverse("admin:accounts_user_delete", args=[user.pk])
    assert client.post(delete_url, {"post": "yes"}).status_code == 403
    user.refresh_from_db()
    assert user.email != "hijack@example.com" and not user.is_staff


def test_deactivate_action_audits_and_ends_the_users_sessions(support):
    customer = UserFactory()
    customer_client = Client()
    customer_client.post(
        reverse("account_login"), {"login": customer.email, "password": DEFAULT_PASSWORD}
    )
    session_key = customer_client.session.session_key
    assert UserSession.objects.filter(user=customer).exists()
    assert Session.objects.filter(session_key=session_key).exists()

    response = admin_client_with_mfa(support).post(
        reverse("admin:accounts_user_changelist"),
        {"action": "deactivate_users", "_selected_action": [customer.pk]},
    )
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.is_active is False
    event = AuditEvent.objects.get(action=Action.USER_DEACTIVATED, subject_user_id=customer.pk)
    assert event.actor_id == support.pk
    assert event.metadata == {"by_staff": True}
    assert not UserSession.objects.filter(user=customer).exists()
    assert not Session.objects.filter(session_key=session_key).exists()


def test_reactivate_action_audits(support):
    customer = UserFactory(is_active=False)
    admin_client_with_mfa(support).post(
        reverse("admin:accounts_user_changelist"),
        {"action": "reactivate_users", "_selected_action": [customer.pk]},
    )
    customer.refresh_from_db()
    assert customer.is_active is True
    assert AuditEvent.objects.filter(
        action=Action.USER_REACTIVATED, subject_user_id=customer.pk, actor_id=support.pk
    ).exists()


# ---------------------------------------------------------------------------- workspaces


def test_workspace_search_by_id_and_deleted_state(support, user):
    live = WorkspaceFactory(owner=user, name="Live Space")
    gone = WorkspaceFactory(owner=user, name="Gone Space")
    workspace_delete(workspace=gone, actor=user)
    client = admin_client_with_mfa(support)
    url = reverse("admin:accounts_workspace_changelist")
    page = client.get(url, {"q": str(gone.pk)})
    assert [w.pk for w in page.context["cl"].result_list] == [gone.pk]
    page = client.get(url, {"deleted": "yes"})
    assert [w.pk for w in page.context["cl"].result_list] == [gone.pk]
    detail = client.get(reverse("admin:accounts_workspace_change", args=[live.pk]))
    assert detail.status_code == 200
    assert user.email.encode() in detail.content


# ---------------------------------------------------------------------------- invitations


def test_invitation_admin_hides_the_token_hash_and_revokes_through_the_service(
    support, workspace, user
):
    invitation, _token = invitation_create(
        workspace=workspace, actor=user, email="invitee@example.com", role="developer"
    )
    client = admin_client_with_mfa(support)
    for url in (
        reverse("admin:accounts_invitation_changelist"),
        reverse("admin:accounts_invitation_change", args=[invitation.pk]),
    ):
        page = client.get(url)
        assert page.status_code == 200
        assert invitation.token_hash.encode() not in page.content
    client.post(
        reverse("admin:accounts_invitation_changelist"),
        {"action": "revoke_invitations", "_selected_action": [invitation.pk]},
    )
    invitation = Invitation.objects.get(pk=invitation.pk)
    assert invitation.revoked_at is not None
    event = AuditEvent.objects.get(action=Action.INVITATION_REVOKED, target_id=str(invitation.pk))
    assert event.actor_id == support.pk and event.workspace_id == workspace.pk


# ------------------------------------------------------------------ staff act on customers


@pytest.mark.parametrize("target_kind", ["staff", "superuser"])
@pytest.mark.parametrize("action", ["deactivate_users", "reactivate_users"])
def test_support_cannot_change_staff_or_superuser_accounts(support, target_kind, action):
    target = UserFactory(
        is_staff=True,
        is_superuser=target_kind == "superuser",
        is_active=action == "deactivate_users",
    )
    before = target.is_active

    response = admin_client_with_mfa(support).post(
        reverse("admin:accounts_user_changelist"),
        {"action": action, "_selected_action": [target.pk]},
        follow=True,
    )

    target.refresh_from_db()
    assert target.is_active is before
    assert not AuditEvent.objects.filter(subject_user_id=target.pk).exists()
    messages = [str(m) for m in response.context["messages"]]
    assert any(
        "Only a superuser may change the account of a staff member" in m for m in messages
    ), messages


def test_support_acting_on_a_mixed_selection_changes_only_the_customers(support):
    customer = UserFactory()
    colleague = UserFactory(is_staff=True)

    admin_client_with_mfa(support).post(
        reverse("admin:accounts_user_changelist"),
        {"action": "deactivate_users", "_selected_action": [customer.pk, colleague.pk]},
    )

    customer.refresh_from_db()
    colleague.refresh_from_db()
    assert customer.is_active is False
    assert colleague.is_active is True


def test_a_superuser_may_deactivate_a_staff_member(superuser):
    colleague = UserFactory(is_staff=True)

    admin_client_with_mfa(superuser).post(
        reverse("admin:accounts_user_changelist"),
        {"action": "deactivate_users", "_selected_action": [colleague.pk]},
    )

    colleague.refresh_from_db()
    assert colleague.is_active is False
    assert AuditEvent.objects.filter(
        action=Action.USER_DEACTIVATED, subject_user_id=colleague.pk, actor_id=superuser.pk
    ).exists()


# ---------------------------------------------------------------------------- password change


@pytest.mark.parametrize("name", ["admin:password_change", "admin:password_change_done"])
def test_admin_password_change_hands_over_to_allauth(staff, name):
    response = admin_client_with_mfa(staff).get(reverse(name))

    assert response.status_code == 302
    assert response["Location"] == reverse("account_change_password")


def test_admin_password_change_form_cannot_change_the_password(staff, mailoutbox):
    client = admin_client_with_mfa(staff)
    new = "a brand new passphrase 77"

    response = client.post(
        reverse("admin:password_change"),
        {"old_password": DEFAULT_PASSWORD, "new_password1": new, "new_password2": new},
    )

    assert response.status_code == 302
    staff.refresh_from_db()
    assert staff.check_password(DEFAULT_PASSWORD)
    assert mailoutbox == []


def test_staff_password_change_through_allauth_is_audited_and_notified(
    staff, mailoutbox, django_capture_on_commit_callbacks
):
    client = admin_client_with_mfa(staff)
    new = "a brand new passphrase 77"

    # The notice is sent once the change commits, like every email.
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("account_change_password"),
            {"oldpassword": DEFAULT_PASSWORD, "password1": new, "password2": new},
        )

    assert response.status_code == 302
    staff.refresh_from_db()
    assert staff.check_password(new)
    assert AuditEvent.objects.filter(action=Action.PASSWORD_CHANGED, actor_id=staff.pk).exists()
    assert any(staff.email in message.to for message in mailoutbox)


def test_remove_mfa_action_asks_for_the_identity_check_then_removes_the_factor(
    security, mailoutbox, django_capture_on_commit_callbacks
):
    customer = UserFactory()
    with_totp(customer)
    client = admin_client_with_mfa(security)
    changelist = reverse("admin:accounts_user_changelist")

    form = client.post(changelist, {"action": "remove_mfa", "_selected_action": [customer.pk]})
    assert form.status_code == 200
    assert b"How was the person" in form.content
    refused = client.post(
        changelist,
        {"action": "remove_mfa", "_selected_action": [customer.pk], "apply": "1", "reason": " "},
    )
    assert refused.status_code == 200
    assert Authenticator.objects.filter(user=customer).exists()

    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(
            changelist,
            {
                "action": "remove_mfa",
                "_selected_action": [customer.pk],
                "apply": "1",
                "reason": "Video call, passport matched",
            },
        )
    assert done.status_code == 302
    assert not Authenticator.objects.filter(user=customer).exists()
    event = AuditEvent.objects.get(action=Action.MFA_REMOVED_BY_STAFF)
    assert event.metadata["reason"] == "Video call, passport matched"
    assert [m.to for m in mailoutbox] == [[customer.email]]


def test_support_cannot_remove_a_second_factor(support):
    customer = UserFactory()
    with_totp(customer)
    client = admin_client_with_mfa(support)
    page = client.get(reverse("admin:accounts_user_changelist"))
    assert b"remove_mfa" not in page.content
    response = client.post(
        reverse("admin:accounts_user_changelist"),
        {
            "action": "remove_mfa",
            "_selected_action": [customer.pk],
            "apply": "1",
            "reason": "Passport checked",
        },
    )
    assert response.status_code in (200, 302)
    assert Authenticator.objects.filter(user=customer).exists()
    assert not AuditEvent.objects.filter(action=Action.MFA_REMOVED_BY_STAFF).exists()
