"""HTML pages: banner, cookie settings, policy pages, sign-up acceptance, settings pages."""

import pytest

from privacy.consent import cookies
from privacy.consent.cookies import BANNER_TEXT_VERSION, CONSENT_COOKIE, VISITOR_COOKIE
from privacy.consent.models import ConsentRecord
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
    client.cookies[CONSENT_COOKIE] = f"{policies['cookie'].pk}.000.{BANNER_TEXT_VERSION}"
    page = client.get("/accounts/login/").content.decode()
    assert "data-consent-form" in page
    assert _banner_hidden(page)


def _banner_hidden(page: str) -> bool:
    return page.split('id="consent-banner"')[1].split(">")[0].rstrip().endswith("hidden")


def test_new_banner_wording_asks_again(client, policies, monkeypatch):
    """A choice made on other wording is no choice, as with a new cookie policy version."""
    response = client.post("/privacy/cookies/consent/", {"choice": "accept_all", "next": "/"})
    assert response.cookies[CONSENT_COOKIE].value.endswith(f".111.{BANNER_TEXT_VERSION}")
    assert _banner_hidden(client.get("/accounts/login/").content.decode())

    monkeypatch.setattr(cookies, "BANNER_TEXT_VERSION", "2099-01-a")
    page = client.get("/accounts/login/").content.decode()
    assert not _banner_hidden(page)
    assert 'data-banner-version="2099-01-a"' in page
    # Choosing again on the new wording records it and hides the banner once more.
    client.post("/privacy/cookies/consent/", {"choice": "reject_all", "next": "/"})
    assert ConsentRecord.objects.order_by("-pk").first().banner_version == "2099-01-a"
    assert _banner_hidden(client.get("/accounts/login/").content.decode())


def test_a_consent_cookie_from_before_banner_versions_asks_again(client, policies):
    client.cookies[CONSENT_COOKIE] = f"{policies['cookie'].pk}.000"
    assert not _banner_hidden(client.get("/accounts/login/").content.decode())


def test_a_new_cookie_policy_version_still_asks_again(client, policies):
    client.cookies[CONSENT_COOKIE] = f"{policies['cookie'].pk + 1000}.000.{BANNER_TEXT_VERSION}"
    assert not _banner_hidden(client.get("/accounts/login/").content.decode())


def test_banner_form_without_javascript_records_and_redirects_to_a_safe_page(client):
    response = client.post(
        "/privacy/cookies/consent/", {"choice": "reject_all", "next": "https://evil.example/"}
    )
    assert response.status_code == 302 and response["Location"] == "/"
    assert response.cookies[VISITOR_COOKIE]["httponly"]
    assert response.cookies[CONSENT_COOKIE].value.endswith(f".000.{BANNER_TEXT_VERSION}")
    assert ConsentRecord.objects.get().categories == ["necessary"]


def test_a_bad_banner_post_is_a_400_and_records_nothing(client):
    response = client.post("/privacy/cookies/consent/", {"choice": "all-of-it"})
    assert response.status_code == 400
    assert ConsentRecord.objects.count() == 0


def test_withdrawing_in_cookie_settings_deletes_that_categorys_cookies(client, policies):
    client.cookies[CONSENT_COOKIE] = f"{policies['cookie'].pk}.111.{BANNER_TEXT_VERSION}"
    client.cookies["_console_analytics"] = "1"
    client.cookies["_console_marketing"] = "1"
    response = client.post("/privacy/cookies/", {"choice": "save", "marketing": "on"})
    assert response.status_code == 302
    assert response.cookies["_console_analytics"]["max-age"] == 0
    assert "_console_marketing" not in response.cookies
    assert ConsentRecord.objects.get().method == "settings"
