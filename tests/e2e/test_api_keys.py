"""An API key's life in chromium: create (production, after re-authentication), copy
once, rotate with a grace period, revoke; verify's answer checked at every step."""

import re

import pytest
from playwright.sync_api import expect

from apikeys.keys import tokens as keys
from apikeys.keys.verification import verify
from tests.e2e.browser import age_sign_in, sign_in
from tests.factories import DEFAULT_PASSWORD, UserFactory, WorkspaceFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

FULL_KEY = re.compile(r"cnsl_(dev|prod)_[0-9A-Za-z]{12}_[0-9A-Za-z]{40,}")


def _copy_shown_key(page) -> str:
    """Read the key on the one-time page, press Copy and return what the clipboard got."""
    shown = page.locator(".secret-box").inner_text().strip()
    assert FULL_KEY.fullmatch(shown)
    page.get_by_role("button", name="Copy key").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == shown
    return copied


def _assert_key_hidden(page, full_key: str) -> None:
    body = page.content()
    assert full_key not in body
    assert FULL_KEY.search(body) is None
    display = f"{full_key[: full_key.rindex('_') + 1]}…{full_key[-4:]}"
    expect(page.locator("code", has_text=display).first).to_be_visible()


def test_create_copy_once_rotate_with_grace_and_revoke(page, context):
    user = UserFactory(email="kay@example.com")
    workspace = WorkspaceFactory(owner=user, name="Rocket Lab")
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    sign_in(page, email=user.email)
    age_sign_in(context)

    # Create a production key: the console asks for the password again first.
    page.goto(f"/w/{workspace.pk}/keys/")
    page.get_by_role("link", name="Create key").first.click()
    page.get_by_label("Name").fill("Gateway prod")
    page.get_by_label("Environment").select_option("production")
    page.get_by_role("button", name="Create key").click()
    expect(page).to_have_url(re.compile(r"/accounts/reauthenticate/"))
    page.get_by_label("Password", exact=True).fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name=re.compile("Confirm", re.I)).click()

    # The full key, once, with a copy button that puts exactly it on the clipboard.
    expect(page.get_by_role("heading", level=2)).to_have_text("Copy your key now")
    first = _copy_shown_key(page)
    assert keys.parse(first).environment == "production"
    result = verify(first, required_scope="inference")
    assert result.valid and result.environment == "production"
    assert result.workspace_id == str(workspace.pk)

    # Afterwards only the prefix and the last four characters, on every page.
    page.get_by_role("link", name=re.compile("continue")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Gateway prod")
    _assert_key_hidden(page, first)
    page.reload()
    _assert_key_hidden(page, first)
    page.goto(f"/w/{workspace.pk}/keys/")
    _assert_key_hidden(page, first)

    # Rotate with a one-hour grace period: a new key, shown once; both work meanwhile.
    page.get_by_role("link", name="Gateway prod").click()
    page.get_by_role("link", name="Rotate").click()
    page.get_by_label("1 hour").check()
    page.get_by_role("button", name="Rotate key").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Key rotated")
    expect(page.get_by_text("The previous secret keeps working until")).to_be_visible()
    second = _copy_shown_key(page)
    assert second != first and keys.parse(second).public_id == keys.parse(first).public_id
    old = verify(first)
    assert old.valid and old.previous_secret
    new = verify(second)
    assert new.valid and not new.previous_secret

    page.get_by_role("link", name=re.compile("continue")).click()
    _assert_key_hidden(page, second)
    expect(
        page.get_by_text(re.compile(r"The previous secret \(…\w{4}\) still works"))
    ).to_be_visible()

    # Revoke: both secrets stop at once.
    page.get_by_role("link", name="Revoke").click()
    page.get_by_role("button", name="Revoke key").click()
    expect(page.get_by_text("It no longer works.")).to_be_visible()
    assert verify(second).code == "revoked"
    assert not verify(first).valid
    assert page.console_errors == []
