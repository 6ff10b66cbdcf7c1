"""The consent banner in a real browser: reject, accept and withdraw, GPC, sign-in, new policy."""

import re
import time

import pytest
from django.utils import timezone

from privacy.consent.models import ConsentRecord
from privacy.policies.services import policy_version_create, policy_version_publish
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.privacy.policy_support import policies_in_force

pytestmark = pytest.mark.django_db(transaction=True)

NECESSARY = {"csrftoken", "sessionid", "console_visitor", "console_consent"}
OPTIONAL_SCRIPTS = re.compile(r"/static/js/(analytics|marketing)\.js")


@pytest.fixture(autouse=True)
def _policies(db):
    return policies_in_force()


def _cookie_names(context) -> set[str]:
    return {cookie["name"] for cookie in context.cookies()}


def _banner(page):
    return page.get_by_role("dialog", name="Cookies on Console")


def _wait_for_cookie(page, name: str, *, present: bool = True, timeout: float = 10.0):
    """Poll the browser's cookie jar (a string predicate would need eval, which the CSP forbids)."""
    deadline = time.monotonic() + timeout
    while (name in _cookie_names(page.context)) != present:
        assert time.monotonic() < deadline, f"cookie {name} present={not present} after {timeout}s"
        page.wait_for_timeout(100)


def test_reject_all_leaves_only_necessary_cookies_and_loads_no_optional_script(page, context):
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto("/accounts/login/")
    banner = _banner(page)
    assert banner.is_visible()
    # The first layer offers the three choices side by side, none pre-selected.
    for name in ("Accept all", "Reject all"):
        assert banner.get_by_role("button", name=name).is_visible()
    assert banner.get_by_role("button", name="Customize").is_visible()
    assert not banner.locator("input[name=analytics]").is_checked()

    banner.get_by_role("button", name="Reject all").click()
    banner.wait_for(state="hidden")
    page.reload()
    page.goto("/policies/privacy/")

    assert _cookie_names(context) <= NECESSARY
    assert "console_consent" in _cookie_names(context)
    assert not [url for url in requested if OPTIONAL_SCRIPTS.search(url)]
    assert not _banner(page).is_visible()
    record = ConsentRecord.objects.get()
    assert record.categories == ["necessary"] and record.method == "button"
    # The gate works under the strict CSP: nothing was refused.
    assert not [error for error in page.console_errors if "Content Security Policy" in error]


def test_accept_all_then_withdraw_in_cookie_settings_removes_the_cookies(page, context):
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto("/policies/privacy/")
    _banner(page).get_by_role("button", name="Accept all").click()
    _wait_for_cookie(page, "_console_analytics")
    _wait_for_cookie(page, "_console_marketing")
    assert {"_console_analytics", "_console_marketing"} <= _cookie_names(context)
    assert [url for url in requested if OPTIONAL_SCRIPTS.search(url)]

    page.get_by_role("contentinfo").get_by_role("link", name="Cookie settings").click()
    page.wait_for_url("**/privacy/cookies/")
    main = page.locator("main")
    assert main.get_by_label("Analytics").is_checked()
    main.get_by_label("Analytics").uncheck()
    main.get_by_label("Marketing").uncheck()
    main.get_by_role("button", name="Save my choices").click()
    page.wait_for_url("**/privacy/cookies/")

    names = _cookie_names(context)
    assert "_console_analytics" not in names
    assert "_console_marketing" not in names
    assert names <= NECESSARY
    methods = list(ConsentRecord.objects.order_by("created_at").values_list("method", flat=True))
    assert methods == ["button", "settings"]
    assert ConsentRecord.objects.latest("created_at").categories == ["necessary", "preferences"]


def test_a_request_with_the_gpc_header_is_recorded_and_the_visitor_told(browser, live_server):
    context = browser.new_context(base_url=live_server.url, extra_http_headers={"Sec-GPC": "1"})
    try:
        page = context.new_page()
        requested = []
        page.on("request", lambda request: requested.append(request.url))
        page.goto("/policies/privacy/")
        banner = _banner(page)
        assert "Global Privacy Control" in banner.inner_text()
        page.reload()
        records = ConsentRecord.objects.filter(method="gpc")
        assert records.count() == 1  # once per visitor and policy version, not per request
        record = records.get()
        assert (record.analytics, record.marketing, record.gpc) == (False, False, True)
        assert str(record.visitor_id) == next(
            c["value"] for c in context.cookies() if c["name"] == "console_visitor"
        )
        # Even "Accept all" keeps analytics and marketing off while the signal is sent.
        banner.get_by_role("button", name="Accept all").click()
        banner.wait_for(state="hidden")
        page.reload()
        assert not [url for url in requested if OPTIONAL_SCRIPTS.search(url)]
        assert _cookie_names(context) <= NECESSARY
    finally:
        context.close()


def test_consent_given_as_a_visitor_is_linked_at_sign_in(page):
    person = UserFactory()
    page.goto("/accounts/login/")
    _banner(page).get_by_role("button", name="Accept all").click()
    _banner(page).wait_for(state="hidden")
    record = ConsentRecord.objects.get()
    assert record.user is None

    page.locator("main input[name=login]").fill(person.email)
    page.locator("main input[name=password]").fill(DEFAULT_PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)

    record.refresh_from_db()
    assert record.user == person
    page.goto("/privacy/cookies/history/")
    assert page.get_by_role("cell", name="Banner button").is_visible()


def test_a_new_cookie_policy_version_brings_the_banner_back(page, context):
    page.goto("/policies/cookies/")
    _banner(page).get_by_role("button", name="Accept all").click()
    _wait_for_cookie(page, "_console_analytics")
    page.reload()
    assert not _banner(page).is_visible()

    staff = UserFactory(is_staff=True)
    draft = policy_version_create(
        actor=staff,
        kind="cookie",
        version="2026-02",
        title="Cookie policy",
        body_markdown="We added a preferences cookie.",
        summary_of_changes="A new preferences cookie.",
        effective_at=timezone.now(),
    )
    policy_version_publish(policy_version=draft, actor=staff)

    page.reload()
    assert _banner(page).is_visible()
    # The old consent no longer counts: the gate clears the optional cookies.
    _wait_for_cookie(page, "_console_analytics", present=False)
    assert "_console_analytics" not in _cookie_names(context)
    assert page.get_by_role("cell", name="2026-02").is_visible()
