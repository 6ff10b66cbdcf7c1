"""Steps the browser tests share: sign in, age the sign-in, re-authenticate."""

import re
from importlib import import_module

from django.conf import settings
from playwright.sync_api import expect

from tests.factories import DEFAULT_PASSWORD


def sign_in(page, *, email: str, password: str = DEFAULT_PASSWORD) -> None:
    """Sign in through the login form, answering the cookie banner first if it shows."""
    page.goto("/accounts/login/")
    banner = page.locator("#consent-banner")
    if banner.is_visible():
        banner.get_by_role("button", name="Reject all").click()
        expect(banner).to_be_hidden()
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


def age_sign_in(context, *, seconds: int = 3600) -> None:
    """Move this browser's sign-in back in time, past the re-authentication window."""
    cookie = next(c for c in context.cookies() if c["name"] == settings.SESSION_COOKIE_NAME)
    session = import_module(settings.SESSION_ENGINE).SessionStore(session_key=cookie["value"])
    session["account_authentication_methods"] = [
        {**record, "at": record["at"] - seconds}
        for record in session["account_authentication_methods"]
    ]
    session.save()


def reauthenticate(page, *, password: str = DEFAULT_PASSWORD) -> None:
    """Answer allauth's "confirm your password" page."""
    expect(page).to_have_url(re.compile(r"/accounts/reauthenticate/"))
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name=re.compile("Confirm", re.I)).click()
