"""HTML pages: banner, cookie settings, policy pages, sign-up acceptance, settings pages."""

import pytest
from django.utils import timezone

from privacy.policies.models import PolicyAcceptance
from privacy.policies.services import policy_version_create, policy_version_publish
from tests.privacy.policy_support import policies_in_force

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def policies(db):
    return policies_in_force()


def test_policy_page_shows_the_current_version_and_lists_older_ones(client, policies, user):
    draft = policy_version_create(
        actor=user,
        kind="privacy",
        version="2026-03",
        title="Privacy policy",
        body_markdown="## Section\n\n<script>alert(1)</script>Plain text.",
        summary_of_changes="Clarified retention.",
        effective_at=timezone.now(),
    )
    policy_version_publish(policy_version=draft, actor=user)
    page = client.get("/policies/privacy/").content.decode()
    assert "Version 2026-03" in page and "<h2>Section</h2>" in page
    assert "<script>alert" not in page
    assert policies["privacy"].version in page  # the older version is listed
    older = client.get(f"/policies/privacy/{policies['privacy'].version}/")
    assert older.status_code == 200 and "earlier" in older.content.decode()
    assert client.get("/policies/privacy/no-such-version/").status_code == 404


def test_sign_up_links_the_policies_and_records_the_versions_accepted(client, policies):
    page = client.get("/accounts/signup/").content.decode()
    assert 'href="/policies/privacy/"' in page and 'href="/policies/cookies/"' in page
    response = client.post(
        "/accounts/signup/",
        {
            "name": "Ada Example",
            "email": "ada@example.com",
            "password1": "a long enough passphrase 9",
            "password2": "a long enough passphrase 9",
            "age_confirmed": "on",
        },
    )
    assert response.status_code == 302
    accepted = PolicyAcceptance.objects.filter(user__email="ada@example.com")
    assert {a.policy_version_id for a in accepted} == {v.pk for v in policies.values()}
    assert {a.source for a in accepted} == {"signup"}
