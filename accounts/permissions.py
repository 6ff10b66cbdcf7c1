"""The one permission map: which workspace role may do what.

Every view, endpoint and service asks `role_has_permission` (usually through
`accounts.selectors.workspace_get_for_user`); nothing compares role names itself.
"""

from django.db import models


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    DEVELOPER = "developer", "Developer"
    VIEWER = "viewer", "Viewer"


class Perm:
    WORKSPACE_VIEW = "workspace.view"
    WORKSPACE_UPDATE = "workspace.update"
    WORKSPACE_DELETE = "workspace.delete"
    WORKSPACE_TRANSFER = "workspace.transfer"
    MEMBERS_VIEW = "members.view"
    MEMBERS_MANAGE = "members.manage"
    INVITATIONS_MANAGE = "invitations.manage"
    AUDIT_VIEW = "audit.view"
    SETTINGS_UPDATE = "settings.update"
    KEYS_VIEW = "keys.view"
    KEYS_CREATE = "keys.create"
    KEYS_MANAGE_ALL = "keys.manage_all"
    USAGE_VIEW = "usage.view"
    # Endpoints, their secrets and their delivery log (receivers' answers may quote
    # anything): owners and admins only.
    WEBHOOKS_MANAGE = "webhooks.manage"


_VIEWER = {Perm.WORKSPACE_VIEW, Perm.MEMBERS_VIEW, Perm.KEYS_VIEW, Perm.USAGE_VIEW}
_DEVELOPER = _VIEWER | {Perm.KEYS_CREATE}
_ADMIN = _DEVELOPER | {
    Perm.WORKSPACE_UPDATE,
    Perm.MEMBERS_MANAGE,
    Perm.INVITATIONS_MANAGE,
    Perm.AUDIT_VIEW,
    Perm.SETTINGS_UPDATE,
    Perm.KEYS_MANAGE_ALL,
    Perm.WEBHOOKS_MANAGE,
}
_OWNER = _ADMIN | {Perm.WORKSPACE_DELETE, Perm.WORKSPACE_TRANSFER}

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    Role.OWNER: frozenset(_OWNER),
    Role.ADMIN: frozenset(_ADMIN),
    Role.DEVELOPER: frozenset(_DEVELOPER),
    Role.VIEWER: frozenset(_VIEWER),
}

ALL_PERMISSIONS = frozenset(_OWNER)

# Who may grant which role: nobody grants a role above their own; only owners make owners.
ROLE_RANK = {Role.VIEWER: 0, Role.DEVELOPER: 1, Role.ADMIN: 2, Role.OWNER: 3}


def role_has_permission(role: str | None, permission: str) -> bool:
    if permission not in ALL_PERMISSIONS:
        raise ValueError(f"Unknown permission {permission!r}")
    return role is not None and permission in ROLE_PERMISSIONS.get(role, frozenset())


def role_can_assign(actor_role: str, role: str) -> bool:
    return ROLE_RANK[Role(actor_role)] >= ROLE_RANK[Role(role)]
