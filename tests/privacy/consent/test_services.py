"""Privacy services: consent proof, GPC, linking, settings, workspace settings, policies."""

import uuid

import pytest
from django.core.cache import cache

from accounts import request_context
from accounts.errors import DomainError
from accounts.models import AuditEvent
from privacy.consent.cookies import BANNER_TEXT_VERSION, ip_hash
from privacy.consent.models import ConsentRecord
from privacy.consent.services import consent_gpc_record, consent_link_visitor, consent_record
from privacy.data_use.models import PrivacySettings
from privacy.data_use.services import (
    DataUseAction,
)
from privacy.policies.selectors import policy_current
from tests.factories import UserFactory
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
