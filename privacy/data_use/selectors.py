"""Reads of the data-use settings."""

from __future__ import annotations

from accounts.errors import DomainError
from accounts.permissions import Perm
from accounts.selectors import workspace_get_for_user
from privacy.data_use.models import PrivacySettings


def privacy_settings_for_user(*, user) -> PrivacySettings:
    """The user's privacy settings; an unsaved row with every default if none exist yet."""
    found = PrivacySettings.objects.filter(user=user).first()
    return found or PrivacySettings(user=user)


def workspace_privacy_manageable(user, workspace_id) -> bool:
    """Whether `user` may change the data-use settings of the workspace."""
    try:
        workspace_get_for_user(
            user=user, workspace_id=workspace_id, permission=Perm.SETTINGS_UPDATE
        )
    except DomainError:
        return False
    return True
