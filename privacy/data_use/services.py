"""Writes of the data-use settings: a person's and a workspace's training opt-out,
sale/share opt-out, zero data retention and usage retention.

Each service is atomic and writes its audit event in the same transaction; verify sees
the new flags at once because the keys' generations are raised in that transaction too.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from accounts.audit import audit_record
from accounts.errors import DomainError
from accounts.models import User, Workspace
from accounts.services import user_preferences_update, workspace_settings_update
from privacy.data_use.models import PrivacySettings


class DataUseAction:
    """Audit actions of the data-use settings."""

    SETTINGS_UPDATED = "privacy.settings_updated"


# ---------------------------------------------------------------------------- key caches


def _api_key_caches_invalidate(*, workspace_id=None, user_id=None) -> None:
    """Raise the affected keys' generations in the current transaction, so every cached
    verify answer is reloaded once it commits (even if Redis has lost its data)."""
    from apikeys.keys import services as apikey_services

    if workspace_id is not None:
        invalidate = getattr(apikey_services, "api_key_cache_invalidate_workspace", None)
        if invalidate is not None:
            invalidate(workspace_id=workspace_id)
    if user_id is not None:
        invalidate = getattr(apikey_services, "api_key_cache_invalidate_for_user", None)
        if invalidate is not None:
            invalidate(user_id=user_id)


USER_PRIVACY_FIELDS = ("training_opt_out", "do_not_sell_or_share")


@transaction.atomic
def privacy_settings_update(
    *,
    user: User,
    actor: User | None = None,
    training_opt_out: bool | None = None,
    do_not_sell_or_share: bool | None = None,
    marketing_emails: bool | None = None,
    source: str = "settings",
) -> PrivacySettings:
    """Change a user's privacy choices; `None` leaves a choice as it is."""
    row, _ = PrivacySettings.objects.select_for_update().get_or_create(user=user)
    requested = {"training_opt_out": training_opt_out, "do_not_sell_or_share": do_not_sell_or_share}
    changed = {}
    for name, value in requested.items():
        if value is None:
            continue
        if not isinstance(value, bool):
            raise DomainError("Expected true or false.", fields={name: ["Must be a boolean."]})
        if getattr(row, name) != value:
            changed[name] = {"from": getattr(row, name), "to": value}
            setattr(row, name, value)
    if changed:
        row.updated_at = timezone.now()
        row.save(update_fields=[*changed, "updated_at"])
        audit_record(
            action=DataUseAction.SETTINGS_UPDATED,
            actor=actor or user,
            subject_user=user,
            target=row,
            metadata={"changes": changed, "source": source},
        )
        user_id = user.pk
        _api_key_caches_invalidate(user_id=user_id)
    if marketing_emails is not None:
        if not isinstance(marketing_emails, bool):
            raise DomainError(
                "Expected true or false.", fields={"marketing_emails": ["Must be a boolean."]}
            )
        user_preferences_update(user=user, marketing_emails=marketing_emails)
    return row


WORKSPACE_PRIVACY_FIELDS = ("zero_data_retention", "training_opt_out", "usage_retention_days")


@transaction.atomic
def workspace_privacy_update(
    *,
    workspace: Workspace,
    actor: User,
    zero_data_retention: bool | None = None,
    training_opt_out: bool | None = None,
    usage_retention_days: int | None = None,
) -> Workspace:
    """Change a workspace's data-handling settings (admins and owners only)."""
    changes = {
        name: value
        for name, value in (
            ("zero_data_retention", zero_data_retention),
            ("training_opt_out", training_opt_out),
            ("usage_retention_days", usage_retention_days),
        )
        if value is not None
    }
    workspace_settings_update(workspace=workspace, actor=actor, **changes)
    _api_key_caches_invalidate(workspace_id=workspace.pk)
    return workspace
