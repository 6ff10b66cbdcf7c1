from datetime import timedelta

import pytest
import time_machine
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.usersessions.models import UserSession
from django.contrib.auth.models import Group
from django.core import mail
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from accounts.audit import Action
from accounts.errors import Conflict, DomainError, Forbidden, NotFound
from accounts.models import AuditEvent, Invitation, Membership, User
from accounts.permissions import Role
from accounts.services import (
    STAFF_ROLES,
    invitation_accept,
    invitation_accept_for_user,
    invitation_create,
    invitation_resend,
    invitation_revoke,
    invitation_token_hash,
    membership_change_role,
    membership_remove,
    user_mfa_remove_by_staff,
    user_profile_update,
    user_sessions_end_by_staff,
    user_signup_complete,
    user_staff_roles_set,
    workspace_create,
    workspace_delete,
    workspace_personal_name,
    workspace_rename,
    workspace_settings_update,
    workspace_transfer_ownership,
    workspace_update,
)
from tests.factories import DEFAULT_PASSWORD, UserFactory, WorkspaceFactory, add_member
from tests.support import staff_member, staff_role, with_totp

pytestmark = pytest.mark.django_db


def _events(workspace, action):
    return AuditEvent.objects.filter(workspace_id=workspace.pk, action=action)


# ---------------------------------------------------------------------------- workspaces


def test_create_makes_the_creator_owner_and_audits(user):
    workspace = workspace_create(user=user, name="  Lab ")
    assert workspace.name == "Lab"
    assert Membership.objects.get(workspace=workspace, user=user).role == Role.OWNER
    assert _events(workspace, Action.WORKSPACE_CREATED).count() == 1


@pytest.mark.parametrize("name", ["", "   ", "x" * 101, "line\nbreak"])
def test_create_refuses_bad_names(user, name):
    with pytest.raises(DomainError):
        workspace_create(user=user, name=name)


def test_rename_is_audited_with_old_and_new_name(workspace, user):
    workspace_rename(workspace=workspace, actor=user, name="New")
    event = _events(workspace, Action.WORKSPACE_RENAMED).get()
    assert event.metadata == {"from": "Acme", "to": "New"}


def test_developer_cannot_rename(workspace):
    dev = add_member(workspace, Role.DEVELOPER).user
    with pytest.raises(NotFound):
        workspace_rename(workspace=workspace, actor=dev, name="Nope")
    workspace.refresh_from_db()
    assert workspace.name == "Acme"


def test_settings_default_retention_is_30_days(workspace):
    assert workspace.usage_retention_days == 30
    assert not workspace.zero_data_retention and not workspace.training_opt_out


@pytest.mark.parametrize("days", [29, 91])
def test_settings_refuse_retention_outside_30_to_90(workspace, user, days):
    with pytest.raises(DomainError):
        workspace_settings_update(workspace=workspace, actor=user, usage_retention_days=days)
    workspace.refresh_from_db()
    assert workspace.usage_retention_days == 30


def test_settings_refuse_unknown_fields(workspace, user):
    with pytest.raises(DomainError):
        workspace_settings_update(workspace=workspace, actor=user, name="sneaky")


def test_update_is_all_or_nothing(workspace, user):
    with pytest.raises(DomainError):
        workspace_update(workspace=workspace, actor=user, name="Renamed", usage_retention_days=5)
    workspace.refresh_from_db()
    assert workspace.name == "Acme"
    assert not _events(workspace, Action.WORKSPACE_RENAMED).exists()


def test_delete_is_owner_only_and_revokes_pending_invitations(workspace, user):
    admin = add_member(workspace, Role.ADMIN).user
    invitation, _ = invitation_create(
        workspace=workspace, actor=user, email="a@example.com", role=Role.VIEWER
    )
    with pytest.raises(NotFound):
        workspace_delete(workspace=workspace, actor=admin)
    workspace_delete(workspace=workspace, actor=user)
    workspace.refresh_from_db()
    invitation.refresh_from_db()
    assert workspace.deleted_at is not None
    assert invitation.status == "revoked"


def test_transfer_makes_the_member_owner_and_steps_the_actor_down(workspace, user):
    other = add_member(workspace, Role.VIEWER)
    workspace_transfer_ownership(
        workspace=workspace, actor=user, new_owner=other.user, keep_actor_as=Role.DEVELOPER
    )
    other.refresh_from_db()
    assert other.role == Role.OWNER
    assert Membership.objects.get(workspace=workspace, user=user).role == Role.DEVELOPER
    assert _events(workspace, Action.WORKSPACE_TRANSFERRED).count() == 1


def test_transfer_to_a_non_member_changes_nothing(workspace, user):
    with pytest.raises(DomainError):
        workspace_transfer_ownership(workspace=workspace, actor=user, new_owner=UserFactory())
    assert Membership.objects.get(workspace=workspace, user=user).role == Role.OWNER


def test_admins_cannot_transfer(workspace):
    admin = add_member(workspace, Role.ADMIN).user
    with pytest.raises(NotFound):
        workspace_transfer_ownership(workspace=workspace, actor=admin, new_owner=admin)


# ---------------------------------------------------------------------------- members


def test_last_owner_cannot_be_demoted(workspace, user):
    mine = Membership.objects.get(workspace=workspace, user=user)
    with pytest.raises(Conflict):
        membership_change_role(workspace=workspace, actor=user, membership=mine, role=Role.ADMIN)
    mine.refresh_from_db()
    assert mine.role == Role.OWNER


def test_an_owner_can_be_demoted_when_another_owner_exists(workspace, user):
    add_member(workspace, Role.OWNER)
    mine = Membership.objects.get(workspace=workspace, user=user)
    membership_change_role(workspace=workspace, actor=user, membership=mine, role=Role.ADMIN)
    mine.refresh_from_db()
    assert mine.role == Role.ADMIN


def test_last_owner_cannot_leave(workspace, user):
    mine = Membership.objects.get(workspace=workspace, user=user)
    with pytest.raises(Conflict):
        membership_remove(workspace=workspace, actor=user, membership=mine)
    assert Membership.objects.filter(pk=mine.pk).exists()


def test_member_leaving_is_audited_as_left(workspace):
    viewer = add_member(workspace, Role.VIEWER)
    membership_remove(workspace=workspace, actor=viewer.user, membership=viewer)
    assert not Membership.objects.filter(pk=viewer.pk).exists()
    assert _events(workspace, Action.MEMBER_LEFT).count() == 1


@pytest.mark.parametrize(
    ("actor_role", "target_role", "new_role"),
    [
        (Role.ADMIN, Role.VIEWER, Role.OWNER),  # grant above own
        (Role.ADMIN, Role.OWNER, Role.VIEWER),  # touch someone above
    ],
)
def test_nobody_grants_or_changes_above_their_own_role(
    workspace, actor_role, target_role, new_role
):
    actor = add_member(workspace, actor_role).user
    target = add_member(workspace, target_role)
    with pytest.raises(Forbidden):
        membership_change_role(workspace=workspace, actor=actor, membership=target, role=new_role)
    target.refresh_from_db()
    assert target.role == target_role


def test_admin_cannot_remove_an_owner(workspace, user):
    admin = add_member(workspace, Role.ADMIN).user
    owner = Membership.objects.get(workspace=workspace, user=user)
    with pytest.raises(Forbidden):
        membership_remove(workspace=workspace, actor=admin, membership=owner)
    assert Membership.objects.filter(pk=owner.pk).exists()


def test_developers_cannot_manage_members(workspace):
    dev = add_member(workspace, Role.DEVELOPER).user
    viewer = add_member(workspace, Role.VIEWER)
    with pytest.raises(NotFound):
        membership_change_role(
            workspace=workspace, actor=dev, membership=viewer, role=Role.DEVELOPER
        )
    with pytest.raises(NotFound):
        membership_remove(workspace=workspace, actor=dev, membership=viewer)


def test_membership_of_another_workspace_is_not_found(workspace, user):
    foreign = add_member(WorkspaceFactory(), Role.VIEWER)
    with pytest.raises(NotFound):
        membership_remove(workspace=workspace, actor=user, membership=foreign)
    assert Membership.objects.filter(pk=foreign.pk).exists()


# ---------------------------------------------------------------------------- invitations


def test_invitation_token_is_stored_only_as_a_hash(workspace, user):
    invitation, token = invitation_create(
        workspace=workspace, actor=user, email="a@example.com", role=Role.VIEWER
    )
    assert invitation.token_hash == invitation_token_hash(token)
    assert token != invitation.token_hash
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM accounts_invitation")
        rows = cursor.fetchall()
        cursor.execute("SELECT metadata::text FROM accounts_auditevent")
        events = cursor.fetchall()
    assert token not in repr(rows)
    assert token not in repr(events)


def test_invitation_expires_after_seven_days(workspace, user):
    invitation, token = invitation_create(
        workspace=workspace, actor=user, email="a@example.com", role=Role.VIEWER
    )
    assert invitation.expires_at - invitation.sent_at == timedelta(days=7)
    invitee = UserFactory(email="a@example.com")
    with (
        time_machine.travel(timezone.now() + timedelta(days=7, seconds=1)),
        pytest.raises(NotFound),
    ):
        invitation_accept(token=token, user=invitee)
    assert not Membership.objects.filter(workspace=workspace, user=invitee).exists()


def test_invitation_email_has_the_link_and_expiry(
    workspace, user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        invitation, token = invitation_create(
            workspace=workspace, actor=user, email="a@example.com", role=Role.ADMIN
        )
    message = mail.outbox[-1]
    assert message.to == ["a@example.com"]
    assert "Acme" in message.subject
    assert f"/invitations/{token}/" in message.body
    assert invitation.expires_at.strftime("%Y-%m-%d") in message.body
    assert "Admin" in message.body


def test_invitation_email_waits_for_the_commit(workspace, user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        invitation_create(workspace=workspace, actor=user, email="a@example.com", role="viewer")
    assert len(callbacks) == 1  # queued for commit, not sent inside the transaction
    assert mail.outbox == []


def test_invitation_refuses_bad_email_and_role(workspace, user):
    with pytest.raises(DomainError):
        invitation_create(workspace=workspace, actor=user, email="a@", role=Role.VIEWER)
    with pytest.raises(DomainError):
        invitation_create(workspace=workspace, actor=user, email="a@example.com", role="root")
    assert not Invitation.objects.exists()


def test_admin_cannot_invite_an_owner(workspace):
    admin = add_member(workspace, Role.ADMIN).user
    with pytest.raises(Forbidden):
        invitation_create(workspace=workspace, actor=admin, email="a@example.com", role="owner")


def test_inviting_an_existing_member_is_a_conflict(workspace, user):
    member = add_member(workspace, Role.VIEWER)
    with pytest.raises(Conflict) as info:
        invitation_create(
            workspace=workspace, actor=user, email=member.user.email.upper(), role="viewer"
        )
    assert info.value.code == "already_member"


def test_resend_invalidates_the_old_token_and_restarts_the_clock(workspace, user):
    invitation, old = invitation_create(
        workspace=workspace, actor=user, email="a@example.com", role=Role.VIEWER
    )
    later = timezone.now() + timedelta(days=6)
    with time_machine.travel(later):
        invitation, new = invitation_resend(invitation=invitation, actor=user)
    assert new != old
    assert invitation.expires_at > later + timedelta(days=6)
    invitee = UserFactory(email="a@example.com")
    with pytest.raises(NotFound):
        invitation_accept(token=old, user=invitee)
    invitation_accept(token=new, user=invitee)
    assert Membership.objects.filter(workspace=workspace, user=invitee).exists()


def test_revoked_invitation_cannot_be_accepted_or_resent(workspace, user):
    invitation, token = invitation_create(
        workspace=workspace, actor=user, email="a@example.com", role=Role.VIEWER
    )
    invitation_revoke(invitation=invitation, actor=user)
    invitee = UserFactory(email="a@example.com")
    with pytest.raises(NotFound):
        invitation_accept(token=token, user=invitee)
    with pytest.raises(Conflict):
        invitation_resend(invitation=invitation, actor=user)
    assert _events(workspace, Action.INVITATION_REVOKED).count() == 1


def test_accept_by_the_invited_verified_address(workspace, user):
    invitee = UserFactory(email="a@example.com")
    _, token = invitation_create(
        workspace=workspace, actor=user, email="A@Example.com", role=Role.DEVELOPER
    )
    membership = invitation_accept(token=token, user=invitee)
    assert membership.role == Role.DEVELOPER
    assert _events(workspace, Action.INVITATION_ACCEPTED).count() == 1
    with pytest.raises(NotFound):
        invitation_accept(token=token, user=invitee)  # used once


def test_accept_by_another_account_is_refused(workspace, user):
    _, token = invitation_create(
        workspace=workspace, actor=user, email="a@example.com", role=Role.VIEWER
    )
    stranger = UserFactory()
    with pytest.raises(Forbidden):
        invitation_accept(token=token, user=stranger)
    assert not Membership.objects.filter(workspace=workspace, user=stranger).exists()


def test_accept_with_the_address_unverified_is_refused(workspace, user):
    invitee = UserFactory(email="a@example.com", verified=False)
    EmailAddress.objects.create(user=invitee, email=invitee.email, verified=False, primary=True)
    _, token = invitation_create(
        workspace=workspace, actor=user, email="a@example.com", role=Role.VIEWER
    )
    with pytest.raises(Forbidden):
        invitation_accept(token=token, user=invitee)
    assert not Membership.objects.filter(workspace=workspace, user=invitee).exists()


def test_accept_by_an_existing_member_keeps_their_role(workspace, user):
    member = add_member(workspace, Role.ADMIN)
    invitation = Invitation.objects.create(
        workspace=workspace,
        email=member.user.email,
        role=Role.VIEWER,
        token_hash=invitation_token_hash("t" * 40),
        invited_by=user,
        expires_at=timezone.now() + timedelta(days=7),
    )
    invitation_accept(token="t" * 40, user=member.user)
    member.refresh_from_db()
    invitation.refresh_from_db()
    assert member.role == Role.ADMIN
    assert invitation.status == "accepted"


def test_accept_for_user_by_id(workspace, user):
    invitee = UserFactory()
    invitation, _ = invitation_create(
        workspace=workspace, actor=user, email=invitee.email, role=Role.VIEWER
    )
    invitation_accept_for_user(invitation_id=invitation.pk, user=invitee)
    assert Membership.objects.get(workspace=workspace, user=invitee).role == Role.VIEWER


@pytest.mark.parametrize("bad_id", [None, "1", True, 10**9])
def test_accept_for_user_with_a_bad_id_is_not_found(user, bad_id):
    with pytest.raises(NotFound):
        invitation_accept_for_user(invitation_id=bad_id, user=user)


def test_accept_for_user_for_someone_else_is_not_found(workspace, user):
    invitation, _ = invitation_create(
        workspace=workspace, actor=user, email="a@example.com", role=Role.VIEWER
    )
    stranger = UserFactory()
    with pytest.raises(NotFound):
        invitation_accept_for_user(invitation_id=invitation.pk, user=stranger)
    invitation.refresh_from_db()
    assert invitation.accepted_at is None


def test_invitation_to_a_deleted_workspace_cannot_be_accepted(workspace, user):
    invitee = UserFactory()
    invitation, token = invitation_create(
        workspace=workspace, actor=user, email=invitee.email, role=Role.VIEWER
    )
    workspace_delete(workspace=workspace, actor=user)
    with pytest.raises(NotFound):
        invitation_accept(token=token, user=invitee)
    with pytest.raises(NotFound):
        invitation_accept_for_user(invitation_id=invitation.pk, user=invitee)


# ---------------------------------------------------------------------------- names and addresses


@pytest.mark.parametrize(
    "name", ["Team\u202eenO", "Team\u2066One\u2069", "Team\u2028One", "A\x85B"]
)
def test_create_refuses_direction_and_separator_characters(user, name):
    with pytest.raises(DomainError) as caught:
        workspace_create(user=user, name=name)
    assert caught.value.code == "unsafe_characters"
    assert not Membership.objects.filter(user=user).exists()


@pytest.mark.parametrize("name", ["Ada\tLovelace", "Ada\nLovelace", "Ada \u202eecalevoL"])
def test_profile_update_refuses_unsafe_names_and_changes_nothing(user, name):
    old = user.name
    with pytest.raises(DomainError):
        user_profile_update(user=user, name=name)
    user.refresh_from_db()
    assert user.name == old
    assert not AuditEvent.objects.filter(action=Action.PROFILE_UPDATED).exists()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Ada Lovelace", "Ada's workspace"),
        ("A" * 88, "A" * 88 + "'s workspace"),
        ("A" * 150, "A" * 87 + "…'s workspace"),
    ],
)
def test_the_personal_workspace_name_always_fits(name, expected):
    result = workspace_personal_name(user_name=name)
    assert result == expected
    assert len(result) <= 100


def test_signup_complete_with_a_long_single_word_name_makes_a_valid_workspace():
    user = UserFactory(name="")
    workspace = user_signup_complete(user=user, name="B" * 150)
    user.refresh_from_db()
    assert user.name == "B" * 150
    assert user.age_confirmed_at is not None
    assert workspace.is_personal and len(workspace.name) == 100


@pytest.mark.parametrize("name", ["Ada\tLovelace", "", "   ", "x" * 151])
def test_signup_complete_checks_the_name_before_writing_anything(name):
    user = UserFactory(name="")
    with pytest.raises(DomainError):
        user_signup_complete(user=user, name=name)
    user.refresh_from_db()
    assert user.name == "" and user.age_confirmed_at is None
    assert not Membership.objects.filter(user=user).exists()
    assert not AuditEvent.objects.filter(action=Action.SIGNUP).exists()


def test_invitation_address_is_normalised(workspace, user):
    invitation, _ = invitation_create(
        workspace=workspace, actor=user, email=" Bob@\uff25xample.com ", role=Role.DEVELOPER
    )
    assert invitation.email == "bob@example.com"
    with pytest.raises(Conflict):
        invitation_create(
            workspace=workspace, actor=user, email="BOB@example.com", role=Role.DEVELOPER
        )


@pytest.mark.parametrize("email", ['"bob"@example.com', "bob@ex\u0430mple.com", None, 42])
def test_invitation_refuses_quoted_mixed_script_and_non_text_addresses(workspace, user, email):
    with pytest.raises(DomainError) as caught:
        invitation_create(workspace=workspace, actor=user, email=email, role=Role.DEVELOPER)
    assert caught.value.fields["email"]
    assert not Invitation.objects.exists()


def test_an_existing_member_under_another_spelling_cannot_be_invited(workspace, user):
    member = add_member(workspace, Role.VIEWER, user=UserFactory(email="carol@example.com"))
    with pytest.raises(Conflict):
        invitation_create(
            workspace=workspace, actor=user, email="Carol@\uff45xample.com", role=Role.VIEWER
        )
    assert member.user.email == "carol@example.com"


def test_the_user_manager_stores_the_normalised_address():
    user = User.objects.create_user("Dave@\uff45xample.COM", password="x" * 20)
    assert user.email == "dave@example.com"


# ---------------------------------------------------------------------------- staff


@pytest.fixture
def roles(db):
    return [staff_role(role) for role in STAFF_ROLES]


def test_ending_sessions_by_staff_needs_active_staff_and_a_customer_target():
    customer = UserFactory()
    with pytest.raises(Forbidden):
        user_sessions_end_by_staff(user=customer, actor=UserFactory())
    with pytest.raises(Forbidden):
        user_sessions_end_by_staff(user=customer, actor=UserFactory(is_staff=True, is_active=False))
    support = staff_member("Support")
    with pytest.raises(Forbidden):
        user_sessions_end_by_staff(user=customer, actor=support)
    security = staff_member("Security")
    assert user_sessions_end_by_staff(user=customer, actor=security) == 0
    colleague = UserFactory(is_staff=True)
    with pytest.raises(Forbidden):
        user_sessions_end_by_staff(user=colleague, actor=security)
    superuser = UserFactory(is_staff=True, is_superuser=True)
    assert user_sessions_end_by_staff(user=colleague, actor=superuser) == 0
    assert (
        AuditEvent.objects.filter(
            action=Action.SESSIONS_ENDED_BY_STAFF, subject_user_id=colleague.pk
        ).count()
        == 1
    )


def test_staff_roles_are_set_by_superusers_only_and_audited(roles):
    superuser = UserFactory(is_staff=True, is_superuser=True)
    person = UserFactory()
    with pytest.raises(Forbidden):
        user_staff_roles_set(user=person, roles=["Support"], actor=UserFactory(is_staff=True))
    with pytest.raises(DomainError):
        user_staff_roles_set(user=person, roles=["Support", "Owner"], actor=superuser)
    with pytest.raises(Conflict):
        user_staff_roles_set(user=superuser, roles=["Support"], actor=superuser)
    person.refresh_from_db()
    assert person.is_staff is False and not person.groups.exists()

    user_staff_roles_set(user=person, roles=["Security", "Support"], actor=superuser)
    person.refresh_from_db()
    assert person.is_staff is True
    assert sorted(person.groups.values_list("name", flat=True)) == ["Security", "Support"]
    user_staff_roles_set(user=person, roles=["Security", "Support"], actor=superuser)
    user_staff_roles_set(user=person, roles=[], actor=superuser)
    person.refresh_from_db()
    assert person.is_staff is False and not person.groups.exists()
    changes = AuditEvent.objects.filter(
        action=Action.STAFF_ROLES_CHANGED, subject_user_id=person.pk
    ).order_by("id")
    assert [e.metadata for e in changes] == [
        {"before": [], "after": ["Security", "Support"]},
        {"before": ["Security", "Support"], "after": []},
    ]


def test_setting_staff_roles_leaves_other_groups_alone(roles):
    other = Group.objects.create(name="Beta testers")
    person = UserFactory()
    person.groups.add(other)
    user_staff_roles_set(
        user=person, roles=["Privacy"], actor=UserFactory(is_staff=True, is_superuser=True)
    )
    assert sorted(person.groups.values_list("name", flat=True)) == ["Beta testers", "Privacy"]


def test_removing_a_second_factor_by_staff_needs_the_security_role_and_a_customer_target():
    customer = UserFactory()
    with_totp(customer)
    for actor in (
        UserFactory(),
        UserFactory(is_staff=True, is_active=False),
        staff_member("Support"),
        staff_member("Privacy"),
    ):
        with pytest.raises(Forbidden):
            user_mfa_remove_by_staff(user=customer, actor=actor, reason="Passport checked")
    colleague = UserFactory(is_staff=True)
    with_totp(colleague)
    with pytest.raises(Forbidden):
        user_mfa_remove_by_staff(
            user=colleague, actor=staff_member("Security"), reason="Passport checked"
        )
    assert Authenticator.objects.filter(user__in=[customer, colleague]).count() == 2
    assert not AuditEvent.objects.filter(action=Action.MFA_REMOVED_BY_STAFF).exists()


@pytest.mark.parametrize("reason", ["", "   \n\t ", "x" * 501])
def test_removing_a_second_factor_by_staff_needs_a_short_reason(reason):
    customer = UserFactory()
    with_totp(customer)
    with pytest.raises(DomainError) as refused:
        user_mfa_remove_by_staff(user=customer, actor=staff_member("Security"), reason=reason)
    assert "reason" in refused.value.fields
    assert Authenticator.objects.filter(user=customer).exists()


def test_removing_a_second_factor_from_an_account_without_one_is_a_conflict():
    with pytest.raises(Conflict):
        user_mfa_remove_by_staff(
            user=UserFactory(), actor=staff_member("Security"), reason="Passport checked"
        )


def test_removing_a_second_factor_by_staff_removes_every_factor_signs_out_and_tells_the_person(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    customer = UserFactory()
    EmailAddress.objects.create(user=customer, email="second@example.com", verified=True)
    EmailAddress.objects.create(user=customer, email="unverified@example.com", verified=False)
    client.post(reverse("account_login"), {"login": customer.email, "password": DEFAULT_PASSWORD})
    assert UserSession.objects.filter(user=customer).exists()
    with_totp(customer)
    RecoveryCodes.activate(customer)
    security = staff_member("Security")

    with django_capture_on_commit_callbacks(execute=True):
        removed = user_mfa_remove_by_staff(
            user=customer, actor=security, reason="  Answered  support request 42 "
        )

    assert removed == 2
    assert not Authenticator.objects.filter(user=customer).exists()
    assert not UserSession.objects.filter(user=customer).exists()
    event = AuditEvent.objects.get(action=Action.MFA_REMOVED_BY_STAFF)
    assert event.actor_id == security.pk
    assert event.subject_user_id == customer.pk
    assert event.metadata == {
        "authenticators": ["recovery_codes", "totp"],
        "reason": "Answered support request 42",
        "by_staff": True,
    }
    assert [sorted(m.to) for m in mailoutbox] == [sorted([customer.email, "second@example.com"])]
    assert "removed two-factor authentication" in mailoutbox[0].body
