"""A support agent, not a superuser, signs in with a code from their authenticator app,
deactivates a customer from the admin, and is refused the privacy team's queue."""

import re

import pytest
from playwright.sync_api import expect

from accounts.audit import Action
from accounts.models import AuditEvent, User
from tests.e2e.browser import sign_in
from tests.factories import UserFactory
from tests.support import staff_member, totp_code, with_totp

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_support_agent_deactivates_a_customer_and_cannot_open_the_privacy_queue(page):
    agent = staff_member("Support", email="agent@example.com")
    secret = with_totp(agent)
    customer = UserFactory(email="customer@example.com")

    sign_in(page, email=agent.email)
    expect(page).to_have_url(re.compile(r"/accounts/2fa/authenticate/"))
    page.get_by_label(re.compile("code", re.I)).fill(totp_code(secret))
    page.get_by_role("button", name=re.compile("sign in", re.I)).click()
    page.wait_for_url(lambda url: "/2fa/" not in url)

    page.goto("/admin/accounts/user/?q=customer%40")
    expect(page.get_by_role("link", name="customer@example.com")).to_be_visible()
    page.locator(f'input[name="_selected_action"][value="{customer.pk}"]').check()
    page.locator('select[name="action"]').select_option("deactivate_users")
    page.get_by_role("button", name="Go").click()
    expect(page.get_by_text("1 account(s) deactivated.")).to_be_visible()
    assert User.objects.get(pk=customer.pk).is_active is False
    assert AuditEvent.objects.filter(
        action=Action.USER_DEACTIVATED, subject_user_id=customer.pk, actor_id=agent.pk
    ).exists()

    response = page.goto("/admin/privacy/privacyrequest/")
    assert response.status == 403
    response = page.goto("/admin/accounts/auditevent/")
    assert response.status == 403
