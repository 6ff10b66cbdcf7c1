"""Privacy services: consent proof, GPC, linking, settings, workspace settings, policies."""

import uuid
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from accounts import request_context
from accounts.errors import Conflict, DomainError, NotFound
from accounts.models import AuditEvent
from accounts.permissions import Role
from apikeys.keys.services import api_key_create
from apikeys.keys.verification import verify
from privacy.consent.cookies import BANNER_TEXT_VERSION, ip_hash
from privacy.consent.models import ConsentRecord
from privacy.consent.services import consent_gpc_record, consent_link_visitor, consent_record
from privacy.data_use.models import PrivacySettings
from privacy.data_use.services import (
    DataUseAction,
    privacy_settings_update,
    workspace_privacy_update,
)
from privacy.policies.models import PolicyVersion
from privacy.policies.selectors import policy_current
from privacy.policies.services import (
    policy_version_create,
    policy_version_publish,
    policy_version_update,
)
from tests.factories import UserFactory, add_member
from tests.privacy.policy_support import policies_in_force

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _policies(db):
    return policies_in_force()


def _cookie_policy():
    return policy_current(kind="cookie")


def test_consent_record_keeps_proof_with_hashed_ip_and_current_versions():
    visitor = uuid.uuid4()
    ctx = request_context.RequestContext(ip_address="203.0.113.9", user_agent="Test/1.0")
    with request_context.bind(ctx):
        record = consent_record(
            visitor_id=visitor, preferences=True, analytics=False, marketing=True, method="button"
        )
    assert record.visitor_id == visitor
    assert record.categories == ["necessary", "preferences", "marketing"]
    assert record.cookie_policy_version == _cookie_policy()
    assert record.banner_version == BANNER_TEXT_VERSION
    assert record.ip_hash == ip_hash("203.0.113.9")
    assert "203.0.113.9" not in record.ip_hash
    assert len(record.ip_hash) == 64
    assert record.user_agent == "Test/1.0"


def test_ip_hash_is_keyed_by_the_configured_salt(settings):
    settings.CONSENT_IP_HASH_SALT = "one"
    first = ip_hash("198.51.100.1")
    settings.CONSENT_IP_HASH_SALT = "two"
    assert ip_hash("198.51.100.1") != first


def test_consent_with_gpc_keeps_analytics_and_marketing_off():
    record = consent_record(
        visitor_id=uuid.uuid4(),
        preferences=True,
        analytics=True,
        marketing=True,
        method="button",
        gpc=True,
    )
    assert (record.preferences, record.analytics, record.marketing) == (True, False, False)
    assert record.gpc is True


def test_consent_record_refuses_a_claimed_gpc_method_and_writes_nothing():
    with pytest.raises(DomainError):
        consent_record(
            visitor_id=uuid.uuid4(), preferences=False, analytics=False, marketing=False,
            method="gpc",
        )  # fmt: skip
    assert ConsentRecord.objects.count() == 0


def test_gpc_is_recorded_once_per_visitor_and_policy_version():
    visitor = uuid.uuid4()
    assert consent_gpc_record(visitor_id=visitor) is not None
    assert consent_gpc_record(visitor_id=visitor) is None
    cache.clear()  # even without the shortcut, the database says it is on file
    assert consent_gpc_record(visitor_id=visitor) is None
    assert ConsentRecord.objects.filter(visitor_id=visitor, method="gpc").count() == 1


def test_gpc_for_a_signed_in_user_sets_do_not_sell_or_share(user):
    record = consent_gpc_record(visitor_id=uuid.uuid4(), user=user)
    assert record.user == user
    assert PrivacySettings.objects.get(user=user).do_not_sell_or_share is True
    assert AuditEvent.objects.filter(
        action=DataUseAction.SETTINGS_UPDATED, subject_user_id=user.pk
    ).exists()


def test_linking_attaches_only_this_browsers_anonymous_records(user):
    visitor = uuid.uuid4()
    mine = consent_record(
        visitor_id=visitor, preferences=False, analytics=True, marketing=False, method="button"
    )
    other_user = UserFactory()
    theirs = consent_record(
        visitor_id=visitor, user=other_user, preferences=False, analytics=False,
        marketing=False, method="button",
    )  # fmt: skip
    elsewhere = consent_record(
        visitor_id=uuid.uuid4(), preferences=False, analytics=False, marketing=False,
        method="button",
    )  # fmt: skip
    assert consent_link_visitor(user=user, visitor_id=visitor) == 1
    mine.refresh_from_db()
    theirs.refresh_from_db()
    elsewhere.refresh_from_db()
    assert mine.user == user
    assert theirs.user == other_user
    assert elsewhere.user is None


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


def _draft(actor, *, material=False, days_ahead=0, kind="privacy", label="v2"):
    return policy_version_create(
        actor=actor,
        kind=kind,
        version=label,
        title="Privacy policy",
        body_markdown="## Changed\n\nNew text.",
        summary_of_changes="We changed things.",
        material_change=material,
        effective_at=timezone.now() + timedelta(days=days_ahead),
    )


def test_a_material_change_needs_the_notice_period(user, settings):
    settings.POLICY_NOTICE_DAYS = 30
    draft = _draft(user, material=True, days_ahead=10)
    with pytest.raises(DomainError):
        policy_version_publish(policy_version=draft, actor=user)
    draft.refresh_from_db()
    assert draft.published_at is None


def test_a_published_version_is_frozen(user):
    draft = _draft(user)
    published = policy_version_publish(policy_version=draft, actor=user)
    with pytest.raises(Conflict):
        policy_version_update(policy_version=published, actor=user, title="Edited")
    assert PolicyVersion.objects.get(pk=draft.pk).title == "Privacy policy"


def test_publishing_renders_markdown_without_raw_html(user):
    draft = policy_version_create(
        actor=user,
        kind="cookie",
        version="v9",
        title="Cookie policy",
        body_markdown="## Heading\n\n<script>alert(1)</script>[x](javascript:alert(1))",
        effective_at=timezone.now(),
    )
    published = policy_version_publish(policy_version=draft, actor=user)
    assert "<h2>Heading</h2>" in published.body_html
    assert "<script" not in published.body_html
    assert "javascript:" not in published.body_html
    assert policy_current(kind="cookie") == published


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
