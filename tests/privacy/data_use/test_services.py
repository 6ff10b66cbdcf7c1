"""Privacy services: consent proof, GPC, linking, settings, workspace settings, policies."""

import pytest

from accounts.errors import DomainError, NotFound
from accounts.models import AuditEvent
from accounts.permissions import Role
from apikeys.keys.services import api_key_create
from apikeys.keys.verification import verify
from privacy.data_use.models import PrivacySettings
from privacy.data_use.services import (
    DataUseAction,
    privacy_settings_update,
    workspace_privacy_update,
)
from tests.factories import add_member
from tests.privacy.policy_support import policies_in_force

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _policies(db):
    return policies_in_force()


def test_privacy_settings_update_audits_and_sets_marketing_through_accounts(user):
    privacy_settings_update(user=user, training_opt_out=True, marketing_emails=True)
    row = PrivacySettings.objects.get(user=user)
    user.refresh_from_db()
    assert row.training_opt_out is True
    assert user.marketing_emails is True
    event = AuditEvent.objects.get(action=DataUseAction.SETTINGS_UPDATED)
    assert event.metadata["changes"]["training_opt_out"] == {"from": False, "to": True}


def test_privacy_settings_update_refuses_non_booleans(user):
    with pytest.raises(DomainError):
        privacy_settings_update(user=user, training_opt_out="yes")
    assert not PrivacySettings.objects.filter(user=user, training_opt_out=True).exists()


def test_workspace_privacy_is_for_admins_and_owners_only(workspace):
    developer = add_member(workspace, Role.DEVELOPER).user
    with pytest.raises(NotFound):
        workspace_privacy_update(workspace=workspace, actor=developer, zero_data_retention=True)
    workspace.refresh_from_db()
    assert workspace.zero_data_retention is False


def test_workspace_usage_retention_outside_30_to_90_changes_nothing(workspace, user):
    with pytest.raises(DomainError):
        workspace_privacy_update(
            workspace=workspace, actor=user, usage_retention_days=20, zero_data_retention=True
        )
    workspace.refresh_from_db()
    assert (workspace.usage_retention_days, workspace.zero_data_retention) == (30, False)


@pytest.mark.django_db(transaction=True)
def test_verify_reflects_a_training_opt_out_made_a_moment_before(workspace, user):
    _key, full_key = api_key_create(
        workspace=workspace,
        actor=user,
        name="Gateway test",
        environment="development",
        scopes=["inference"],
    )
    assert verify(full_key).data_handling["training_opt_out"] is False
    privacy_settings_update(user=user, training_opt_out=True)
    assert verify(full_key).data_handling["training_opt_out"] is True


@pytest.mark.django_db(transaction=True)
def test_verify_reflects_workspace_zero_data_retention_at_once(workspace, user):
    _key, full_key = api_key_create(
        workspace=workspace, actor=user, name="k", environment="development", scopes=["inference"]
    )
    assert verify(full_key).data_handling["zero_data_retention"] is False
    workspace_privacy_update(workspace=workspace, actor=user, zero_data_retention=True)
    assert verify(full_key).data_handling["zero_data_retention"] is True
