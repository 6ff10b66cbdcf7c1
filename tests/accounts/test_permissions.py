import itertools

import pytest

from accounts.permissions import (
    ALL_PERMISSIONS,
    ROLE_PERMISSIONS,
    Perm,
    Role,
    role_can_assign,
    role_has_permission,
)

ORDER = [Role.VIEWER, Role.DEVELOPER, Role.ADMIN, Role.OWNER]


def test_each_role_has_every_permission_of_the_roles_below_it():
    for lower, higher in itertools.pairwise(ORDER):
        assert ROLE_PERMISSIONS[lower] < ROLE_PERMISSIONS[higher]


def test_only_owners_delete_and_transfer():
    for role in ORDER:
        owner = role == Role.OWNER
        assert role_has_permission(role, Perm.WORKSPACE_DELETE) is owner
        assert role_has_permission(role, Perm.WORKSPACE_TRANSFER) is owner


@pytest.mark.parametrize(
    "permission",
    [Perm.MEMBERS_MANAGE, Perm.INVITATIONS_MANAGE, Perm.AUDIT_VIEW, Perm.SETTINGS_UPDATE],
)
def test_member_management_audit_and_settings_start_at_admin(permission):
    assert [role_has_permission(role, permission) for role in ORDER] == [
        False,
        False,
        True,
        True,
    ]


def test_viewers_see_but_do_not_create_keys():
    assert role_has_permission(Role.VIEWER, Perm.KEYS_VIEW)
    assert not role_has_permission(Role.VIEWER, Perm.KEYS_CREATE)
    assert role_has_permission(Role.DEVELOPER, Perm.KEYS_CREATE)


def test_no_role_means_no_permission():
    assert not any(role_has_permission(None, p) for p in ALL_PERMISSIONS)
    assert not role_has_permission("emperor", Perm.WORKSPACE_VIEW)


def test_unknown_permission_is_a_programming_error():
    with pytest.raises(ValueError, match="Unknown permission"):
        role_has_permission(Role.OWNER, "workspace.teleport")


@pytest.mark.parametrize("actor", ORDER)
@pytest.mark.parametrize("role", ORDER)
def test_nobody_assigns_a_role_above_their_own(actor, role):
    assert role_can_assign(actor, role) is (ORDER.index(role) <= ORDER.index(actor))
