"""The support desk in chromium: a person asks with a screenshot, an agent answers in
the admin, the person reads the answer (on the page and by email), replies and closes;
and someone locked out uses the public form."""

import re
import time
from urllib.parse import urlparse

import pytest
from django.contrib.auth.models import Group
from playwright.sync_api import expect

from accounts.selectors import audit_events_for_user
from support.models import Status, SupportAttachment, SupportRequest
from support.services import SupportAction
from tests.e2e.browser import sign_in
from tests.factories import UserFactory, WorkspaceFactory
from tests.support import totp_code, with_totp

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 40


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def _mail_to(outbox, to: str, pattern: str):
    """Wait for a mail to `to` whose body has a link matching `pattern`; return both."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for message in reversed(outbox):
            if to in message.to:
                match = re.search(rf"https?://\S*{pattern}\S*", message.body)
                if match:
                    return message, urlparse(match.group(0)).path
        time.sleep(0.1)
    raise AssertionError(f"no mail to {to} with a link matching {pattern}")


def _dismiss_cookie_banner(page) -> None:
    banner = page.locator("#consent-banner")
    if banner.is_visible():
        banner.get_by_role("button", name="Reject all").click()
        expect(banner).to_be_hidden()


def _agent_signs_in(page, agent, secret) -> None:
    """Password, then the authenticator code: the admin demands both."""
    page.goto("/admin/")
    _dismiss_cookie_banner(page)
    page.get_by_label("Email").fill(agent.email)
    page.get_by_label("Password", exact=True).fill("correct horse battery staple 42")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Code").fill(totp_code(secret))
    page.get_by_role("button", name=re.compile("Sign in|Confirm|Verify", re.I)).click()
    expect(page.get_by_role("link", name=re.compile("Support requests", re.I))).to_be_visible()


def test_a_request_with_a_screenshot_answered_in_the_admin_replied_to_and_closed(
    page, new_context, mailoutbox, tmp_path
):
    person = UserFactory(email="grace@example.com")
    WorkspaceFactory(owner=person, name="Compilers")
    agent = UserFactory(email="agent@example.com", is_staff=True)
    agent.groups.add(Group.objects.get(name="Support"))
    secret = with_totp(agent)
    screenshot = tmp_path / "error.png"
    screenshot.write_bytes(PNG)

    # The person finds "Contact support" from any page and asks, with a screenshot.
    sign_in(page, email=person.email)
    page.goto("/")
    page.get_by_role("link", name="Contact support").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Contact support")
    page.get_by_label("Subject").fill("Dashboard shows an error")
    page.get_by_label("Category").select_option("api_keys")
    page.get_by_label("Workspace (optional)").select_option(label="Compilers")
    page.get_by_label("How can we help?").fill("The usage page shows error 500.")
    page.get_by_label("Attachments (optional)").set_input_files(str(screenshot))
    page.get_by_role("button", name="Send to support").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard shows an error")
    expect(page.get_by_text("Open", exact=True)).to_be_visible()
    request = SupportRequest.objects.get(user=person)
    assert SupportAttachment.objects.get(request=request).file_name == "error.png"

    # The agent works the queue in the admin, with MFA, and answers.
    staff_page = new_context().new_page()
    _agent_signs_in(staff_page, agent, secret)
    staff_page.goto("/admin/support/supportrequest/")
    staff_page.get_by_role("link", name=re.compile("Dashboard shows an error")).click()
    expect(staff_page.locator("#support-thread")).to_contain_text("error 500")
    expect(staff_page.locator("#support-summary")).to_contain_text("Compilers")
    staff_page.get_by_label("Internal note (never shown to the requester)").fill("Known bug.")
    staff_page.get_by_role("button", name="Add note").click()
    staff_page.get_by_label("Reply (emailed to the requester)").fill("Fixed; please retry.")
    staff_page.get_by_role("button", name="Send reply").click()
    expect(staff_page.locator("#support-thread")).to_contain_text("Fixed; please retry.")

    # The person gets the email, follows its link and reads the answer (not the note).
    message, path = _mail_to(mailoutbox, person.email, "/support/")
    assert "Fixed; please retry." in message.body
    page.goto(path)
    expect(page.get_by_text("Fixed; please retry.")).to_be_visible()
    expect(page.get_by_text("Answered", exact=True)).to_be_visible()
    expect(page.get_by_text("Known bug.")).to_have_count(0)
    # The agent's look at the account is on the person's activity page.
    assert audit_events_for_user(user=person).filter(action=SupportAction.ACCOUNT_VIEWED).exists()
    page.goto("/account/activity/")
    expect(page.get_by_text("Support staff viewed your account").first).to_be_visible()

    # The person replies, which puts it back in the queue, and then closes it.
    page.goto(path)
    page.get_by_label("Your reply").fill("Works now, thank you.")
    page.get_by_role("button", name="Send reply").click()
    expect(page.get_by_text("Works now, thank you.")).to_be_visible()
    request.refresh_from_db()
    assert request.status == Status.OPEN
    page.get_by_role("button", name="Close this request").click()
    expect(page.get_by_text("Closed", exact=True)).to_be_visible()
    request.refresh_from_db()
    assert request.status == Status.CLOSED


def test_someone_locked_out_uses_the_public_form_and_confirms_by_email(page, mailoutbox):
    page.goto("/accounts/login/")
    _dismiss_cookie_banner(page)
    page.get_by_role("link", name="Cannot sign in?").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Cannot sign in?")
    page.get_by_label("Your account's email address").fill("lost@example.com")
    page.get_by_label("What stops you from signing in?").select_option("lost_mfa")
    page.get_by_label("Subject").fill("Lost my phone")
    page.get_by_label("Tell us more").fill("My phone and recovery codes are gone.")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your email")
    assert not SupportRequest.objects.received().exists()

    _, path = _mail_to(mailoutbox, "lost@example.com", "/support/public/confirm/")
    page.goto(path)
    assert not SupportRequest.objects.received().exists()  # opening the link is not enough
    page.get_by_role("button", name="Confirm request").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Request confirmed")
    received = SupportRequest.objects.received().get()
    assert received.status == Status.OPEN and received.public_reason == "lost_mfa"
    assert received.user_id is None
