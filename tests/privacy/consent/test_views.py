"""HTML pages: banner, cookie settings, policy pages, sign-up acceptance, settings pages."""

import pytest
from django.test import Client
from django.utils import timezone

from accounts.permissions import Role
from privacy.consent.cookies import CONSENT_COOKIE, VISITOR_COOKIE
from privacy.consent.models import ConsentRecord
from privacy.data_use.models import PrivacySettings
from privacy.policies.models import PolicyAcceptance
from privacy.policies.services import policy_version_create, policy_version_publish
from tests.factories import add_member
from tests.privacy.policy_support import policies_in_force

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def policies(db):
    return policies_in_force()


def test_the_banner_offers_three_equal_choices_with_nothing_pre_ticked(client):
    page = client.get("/accounts/login/").content.decode()
    assert 'id="consent-banner"' in page
    for label in ("Accept all", "Reject all", "Customize"):
        assert 'class="btn btn-secondary consent-choice"' in page and label in page
    assert " checked" not in page.split('id="consent-banner"')[1].split("</section>")[0].replace(
        'id="consent-necessary" checked disabled', ""
    )
    assert 'data-consent-category="analytics"' in page and 'type="text/plain"' in page


def test_the_banner_is_hidden_once_the_current_policy_is_consented(client, policies):
    client.cookies[CONSENT_COOKIE] = f"{policies['cookie'].pk}.000"
    page = client.get("/accounts/login/").content.decode()
    assert "data-consent-form" in page
    assert page.split('id="consent-banner"')[1].split(">")[0].rstrip().endswith("hidden")


def test_banner_form_without_javascript_records_and_redirects_to_a_safe_page(client):
    response = client.post(
        "/privacy/cookies/consent/", {"choice": "reject_all", "next": "https://evil.example/"}
    )
    assert response.status_code == 302 and response["Location"] == "/"
    assert response.cookies[VISITOR_COOKIE]["httponly"]
    assert response.cookies[CONSENT_COOKIE].value.endswith(".000")
    assert ConsentRecord.objects.get().categories == ["necessary"]


def test_a_bad_banner_post_is_a_400_and_records_nothing(client):
    response = client.post("/privacy/cookies/consent/", {"choice": "all-of-it"})
    assert response.status_code == 400
    assert ConsentRecord.objects.count() == 0


def test_withdrawing_in_cookie_settings_deletes_that_categorys_cookies(client, policies):
    client.cookies[CONSENT_COOKIE] = f"{policies['cookie'].pk}.111"
    client.cookies["_console_analytics"] = "1"
    client.cookies["_console_marketing"] = "1"
    response = client.post("/privacy/cookies/", {"choice": "save", "marketing": "on"})
    assert response.status_code == 302
    assert response.cookies["_console_analytics"]["max-age"] == 0
    assert "_console_marketing" not in response.cookies
    assert ConsentRecord.objects.get().method == "settings"


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


def test_privacy_settings_page_saves_and_shows_the_restriction_read_only(client, user):
    PrivacySettings.objects.create(user=user, processing_restricted=True)
    client.force_login(user)
    page = client.get("/privacy/settings/").content.decode()
    assert "processing_restricted" not in page and "Restricted" in page
    response = client.post(
        "/privacy/settings/", {"do_not_sell_or_share": "on", "processing_restricted": ""}
    )
    assert response.status_code == 302
    row = PrivacySettings.objects.get(user=user)
    assert row.do_not_sell_or_share and row.processing_restricted


def test_workspace_privacy_page_refuses_developers_and_bad_retention(client, workspace, user):
    developer = add_member(workspace, Role.DEVELOPER).user
    other = Client()
    other.force_login(developer)
    assert other.get(f"/privacy/workspaces/{workspace.pk}/").status_code == 404
    client.force_login(user)
    response = client.post(
        f"/privacy/workspaces/{workspace.pk}/",
        {"usage_retention_days": "120", "zero_data_retention": "on"},
    )
    assert response.status_code == 400
    workspace.refresh_from_db()
    assert workspace.zero_data_retention is False
    response = client.post(
        f"/privacy/workspaces/{workspace.pk}/",
        {"usage_retention_days": "60", "zero_data_retention": "on"},
    )
    assert response.status_code == 302
    workspace.refresh_from_db()
    assert (workspace.usage_retention_days, workspace.zero_data_retention) == (60, True)


def test_privacy_center_links_settings_cookies_and_history(client, user):
    client.force_login(user)
    page = client.get("/privacy/").content.decode()
    for url in ("/privacy/settings/", "/privacy/cookies/", "/privacy/cookies/history/"):
        assert f'href="{url}"' in page
