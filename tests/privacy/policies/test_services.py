"""Privacy services: consent proof, GPC, linking, settings, workspace settings, policies."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.errors import Conflict, DomainError
from privacy.policies.models import PolicyVersion
from privacy.policies.selectors import policy_current
from privacy.policies.services import (
    policy_version_create,
    policy_version_publish,
    policy_version_update,
)
from tests.privacy.policy_support import policies_in_force

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _policies(db):
    return policies_in_force()


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
