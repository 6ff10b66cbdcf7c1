"""The one fixed set of permission scopes a key can carry."""

from __future__ import annotations

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
SCOPE_CHOICES = [(scope, f"{scope} — {label}") for scope, label in ALL_SCOPES.items()]
DEFAULT_SCOPES = ["models.read", "inference"]


def scopes_normalise(scopes) -> list[str]:
    """Return the scopes deduplicated in the canonical order; raise ValueError on unknown."""
    given = set(scopes or [])
    unknown = given - set(ALL_SCOPES)
    if unknown:
        raise ValueError(", ".join(sorted(str(scope) for scope in unknown)))
    return [scope for scope in ALL_SCOPES if scope in given]
