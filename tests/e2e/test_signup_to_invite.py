"""From sign-up to a second person joining the workspace, in chromium."""

import re
import time
from urllib.parse import urlparse

import pytest
from playwright.sync_api import expect

from accounts.models import Membership
from tests.e2e.browser import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "a long and unusual passphrase 7"


def _link_in_mail(outbox, to: str, pattern: str) -> str:
    """Wait for the mail to `to` and return the path of the first link matching `pattern`."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for message in reversed(outbox):
            if to in message.to:
                match = re.search(rf"https?://\S*{pattern}\S*", message.body)
                if match:
                    return urlparse(match.group(0)).path
        time.sleep(0.1)
    raise AssertionError(f"no mail to {to} with a link matching {pattern}")


def _dismiss_cookie_banner(page) -> None:
    """Answer the consent banner (it sits over the page until answered)."""
    banner = page.locator("#consent-banner")
    if banner.is_visible():
        banner.get_by_role("button", name="Reject all").click()
        expect(banner).to_be_hidden()


def _sign_up_and_verify(page, outbox, *, name: str, email: str) -> None:
    page.goto("/accounts/signup/")
    _dismiss_cookie_banner(page)
    page.get_by_label("Full name").fill(name)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("I am 13 years of age or older").check()
    page.get_by_role("button", name="Create account").click()
    page.wait_for_load_state()

    page.goto(_link_in_mail(outbox, email, "/accounts/confirm-email/"))
    page.get_by_role("button", name=re.compile("Confirm", re.I)).click()
    page.wait_for_load_state()


def test_sign_up_create_workspace_invite_and_join(page, new_context, mailoutbox):
    owner_email, invitee_email = "owner@example.com", "invitee@example.com"

    # The owner signs up, verifies, signs in and creates a workspace.
    _sign_up_and_verify(page, mailoutbox, name="Olive Owner", email=owner_email)
    sign_in(page, email=owner_email, password=PASSWORD)
    page.goto("/workspaces/new/")
    page.get_by_label("Workspace name").fill("Rocket Lab")
    page.get_by_role("button", name="Create workspace").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Rocket Lab")

    # ...and invites a second address.
    page.get_by_role("link", name="Members", exact=True).first.click()
    page.get_by_label("Email address").fill(invitee_email)
    page.get_by_label("Role").select_option("developer")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_text(f"Invitation sent to {invitee_email}")).to_be_visible()
    invitations = page.get_by_role("region", name="Invitations", exact=True)
    expect(invitations.get_by_role("row").filter(has_text=invitee_email)).to_contain_text("Pending")
    invitation_path = _link_in_mail(mailoutbox, invitee_email, "/invitations/")

    # The invitee, in a browser of their own, signs up, verifies and signs in.
    invitee_page = new_context().new_page()
    _sign_up_and_verify(invitee_page, mailoutbox, name="Ivy Invitee", email=invitee_email)
    sign_in(invitee_page, email=invitee_email, password=PASSWORD)

    # They open the invitation link, accept it and land in the workspace.
    invitee_page.goto(invitation_path)
    expect(invitee_page.get_by_role("heading", level=1)).to_contain_text("Rocket Lab")
    invitee_page.get_by_role("button", name="Accept invitation").click()
    expect(invitee_page.get_by_role("heading", level=1)).to_have_text("Rocket Lab")
    expect(invitee_page.get_by_text("You joined")).to_be_visible()

    membership = Membership.objects.get(user__email=invitee_email, workspace__name="Rocket Lab")
    assert membership.role == "developer"

    # The owner sees the new member, and the invitation as accepted.
    page.reload()
    members = page.get_by_role("region", name="Members", exact=True)
    expect(members.get_by_role("cell", name=invitee_email)).to_be_visible()
    invitations = page.get_by_role("region", name="Invitations", exact=True)
    expect(invitations.get_by_role("row").filter(has_text=invitee_email)).to_contain_text(
        "Accepted"
    )
    # Nothing on these pages needs inline script or style.
    assert [m for m in page.console_errors if "Content Security Policy" in m] == []
