import uuid

import pytest
from allauth.account.models import EmailAddress

from accounts.audit import Action, audit_record
from accounts.errors import NotFound
from accounts.models import Membership, Workspace
from accounts.permissions import Perm, Role
from accounts.selectors import (
    audit_events_about_user,
    audit_events_for_workspace,
    invitations_pending_for_user,
    workspace_get_for_user,
    workspaces_for_user,
)
from accounts.services import invitation_create, invitation_revoke, workspace_delete
from tests.factories import UserFactory, WorkspaceFactory, add_member

pytestmark = pytest.mark.django_db


def test_get_for_user_returns_the_workspace_with_the_membership(workspace, user):
    found = workspace_get_for_user(
        user=user, workspace_id=str(workspace.pk), permission=Perm.WORKSPACE_DELETE
    )
    assert found == workspace
    assert found.membership.role == Role.OWNER


@pytest.mark.parametrize("workspace_id", ["not-a-uuid", None, "", uuid.uuid4()])
def test_get_for_user_with_a_bad_or_missing_id_is_not_found(user, workspace_id):
    with pytest.raises(NotFound):
        workspace_get_for_user(user=user, workspace_id=workspace_id, permission=Perm.WORKSPACE_VIEW)


def test_get_for_user_foreign_and_forbidden_are_the_same_not_found(workspace):
    viewer = add_member(workspace, Role.VIEWER).user
    stranger = UserFactory()
    with pytest.raises(NotFound) as forbidden:
        workspace_get_for_user(user=viewer, workspace_id=workspace.pk, permission=Perm.AUDIT_VIEW)
    with pytest.raises(NotFound) as foreign:
        workspace_get_for_user(
            user=stranger, workspace_id=workspace.pk, permission=Perm.WORKSPACE_VIEW
        )
    assert (forbidden.value.code, forbidden.value.message) == (
        foreign.value.code,
        foreign.value.message,
    )


def test_get_for_user_hides_deleted_workspaces(workspace, user):
    workspace_delete(workspace=workspace, actor=user)
    with pytest.raises(NotFound):
        workspace_get_for_user(user=user, workspace_id=workspace.pk, permission=Perm.WORKSPACE_VIEW)


def test_get_for_user_refuses_anonymous(workspace):
    from django.contrib.auth.models import AnonymousUser

    with pytest.raises(NotFound):
        workspace_get_for_user(
            user=AnonymousUser(), workspace_id=workspace.pk, permission=Perm.WORKSPACE_VIEW
        )


def test_workspaces_for_user_lists_only_live_memberships(user):
    mine = WorkspaceFactory(owner=user, name="Mine")
    gone = WorkspaceFactory(owner=user, name="Gone")
    workspace_delete(workspace=gone, actor=user)
    WorkspaceFactory(name="Theirs")
    assert list(workspaces_for_user(user=user)) == [mine]


def test_pending_invitations_for_user_match_verified_addresses_only(workspace, user):
    invitee = UserFactory()
    EmailAddress.objects.create(user=invitee, email="second@example.com", verified=False)
    mine, _ = invitation_create(
        workspace=workspace, actor=user, email=invitee.email, role=Role.VIEWER
    )
    invitation_create(workspace=workspace, actor=user, email="second@example.com", role="viewer")
    invitation_create(workspace=workspace, actor=user, email="other@example.com", role="viewer")
    assert list(invitations_pending_for_user(user=invitee)) == [mine]


def test_pending_invitations_for_user_leave_out_revoked_deleted_and_joined(user):
    invitee = UserFactory()
    revoked_ws = WorkspaceFactory(owner=user, name="Revoked")
    revoked, _ = invitation_create(
        workspace=revoked_ws, actor=user, email=invitee.email, role="viewer"
    )
    invitation_revoke(invitation=revoked, actor=user)
    deleted_ws = WorkspaceFactory(owner=user, name="Deleted")
    invitation_create(workspace=deleted_ws, actor=user, email=invitee.email, role="viewer")
    workspace_delete(workspace=deleted_ws, actor=user)
    joined_ws = WorkspaceFactory(owner=user, name="Joined")
    invitation_create(workspace=joined_ws, actor=user, email=invitee.email, role="viewer")
    add_member(joined_ws, Role.VIEWER, user=invitee)
    assert list(invitations_pending_for_user(user=invitee)) == []


def test_audit_events_for_workspace_stay_in_their_workspace_and_filter(workspace, user):
    other = WorkspaceFactory(name="Other")
    audit_record(action=Action.WORKSPACE_RENAMED, actor=user, workspace=workspace)
    audit_record(action=Action.WORKSPACE_RENAMED, actor=user, workspace=other)
    events = audit_events_for_workspace(workspace=workspace)
    assert {e.workspace_id for e in events} == {workspace.pk}
    renamed = audit_events_for_workspace(workspace=workspace, action=Action.WORKSPACE_RENAMED)
    assert renamed.count() == 1
    assert audit_events_for_workspace(workspace=workspace, actor_id=user.pk + 999).count() == 0
    assert isinstance(Workspace.objects.get(pk=workspace.pk), Workspace)


def test_memberships_of_user_leave_out_deleted_workspaces_and_other_people(user):
    mine = WorkspaceFactory(owner=user, name="Mine")
    gone = WorkspaceFactory(owner=user, name="Gone")
    workspace_delete(workspace=gone, actor=user)
    theirs = WorkspaceFactory(name="Theirs")
    add_member(theirs, Role.DEVELOPER)
    memberships = list(Membership.objects.of_user(user))
    assert [m.workspace for m in memberships] == [mine]
    assert memberships[0].role == Role.OWNER


def test_audit_events_about_user_span_workspaces_newest_first(workspace, user):
    other = WorkspaceFactory(name="Other")
    stranger = UserFactory()
    audit_record(
        action=Action.WORKSPACE_RENAMED, actor=user, subject_user=user, workspace=workspace
    )
    audit_record(action=Action.WORKSPACE_RENAMED, actor=user, subject_user=user, workspace=other)
    audit_record(action=Action.WORKSPACE_RENAMED, actor=stranger, subject_user=stranger)
    events = list(audit_events_about_user(user=user))
    assert {e.workspace_id for e in events} >= {workspace.pk, other.pk}
    assert all(e.subject_user_id == user.pk for e in events)
    assert [e.occurred_at for e in events] == sorted((e.occurred_at for e in events), reverse=True)
