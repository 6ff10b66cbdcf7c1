"""The one fixed set of permission scopes a key can carry."""

from __future__ import annotations

from accounts.permissions import Perm, role_has_permission

MODEL_SCOPES = {
    "models.read": "List and read models",
    "inference": "Run inference",
    "files.read": "Read files",
    "files.write": "Upload and delete files",
    "fine_tuning": "Create and manage fine-tuning jobs",
}
MANAGEMENT_SCOPES = {
    "keys.read": "Read the workspace's API keys",
    "keys.write": "Create, change, rotate and revoke API keys",
    "members.read": "Read the workspace's members",
    "usage.read": "Read usage",
    "audit.read": "Read the audit log",
}
ALL_SCOPES = {**MODEL_SCOPES, **MANAGEMENT_SCOPES}
# What a member's role must allow before they may put a scope on a key: a key acts as
# its creator, so it may carry no more than the creator could do themselves. Model
# scopes need only the right to create keys.
SCOPE_PERMISSIONS = {
    "keys.read": Perm.KEYS_VIEW,
    "keys.write": Perm.KEYS_CREATE,
    "members.read": Perm.MEMBERS_VIEW,
    "usage.read": Perm.USAGE_VIEW,
    "audit.read": Perm.AUDIT_VIEW,
}
SCOPE_CHOICES = [(scope, f"{scope} — {label}") for scope, label in ALL_SCOPES.items()]
DEFAULT_SCOPES = ["models.read", "inference"]


def scopes_normalise(scopes) -> list[str]:
    """Return the scopes deduplicated in the canonical order; raise ValueError on unknown."""
    given = set(scopes or [])
    unknown = given - set(ALL_SCOPES)
    if unknown:
        raise ValueError(", ".join(sorted(str(scope) for scope in unknown)))
    return [scope for scope in ALL_SCOPES if scope in given]


def scopes_beyond(scopes, *, role: str | None, held=None) -> list[str]:
    """Return the scopes of `scopes` that may not be granted, in the canonical order.

    A scope is beyond reach when the granting member's `role` does not allow it, or,
    when the grant comes through a management key, when that key does not hold it
    itself (`held`). A key therefore never grants more than its holder has.
    """
    refused = []
    for scope in scopes_normalise(scopes):
        permission = SCOPE_PERMISSIONS.get(scope, Perm.KEYS_CREATE)
        if not role_has_permission(role, permission) or (held is not None and scope not in held):
            refused.append(scope)
    return refused
