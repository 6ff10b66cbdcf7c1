"""A webhook endpoint's life in chromium: add it (after re-authentication), copy the
secret once, watch an event arrive signed at a real receiver, read the log, resend."""

import re

import pytest
from playwright.sync_api import expect
from standardwebhooks import Webhook

from apikeys.keys.services import api_key_create
from tests.accounts.webhooks.receiver import Receiver
from tests.e2e.browser import age_sign_in, reauthenticate, sign_in
from tests.factories import UserFactory, WorkspaceFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def receiver():
    server = Receiver().start()
    yield server
    server.stop()


def test_add_an_endpoint_receive_a_signed_event_and_resend_it(page, context, receiver):
    user = UserFactory(email="hook@example.com")
    workspace = WorkspaceFactory(owner=user, name="Relay")
    sign_in(page, email=user.email)
    age_sign_in(context)

    page.goto(f"/w/{workspace.pk}/webhooks/")
    page.get_by_role("link", name="Add an endpoint").click()
    page.get_by_label("Endpoint URL").fill(receiver.url)
    page.get_by_label("Description").fill("Deploy bot")
    page.get_by_label("api_key.created").check()
    page.get_by_role("button", name="Add endpoint").click()
    reauthenticate(page)

    expect(page.get_by_role("heading", level=2)).to_have_text("Copy the signing secret now")
    secret = page.locator(".secret-box").inner_text().strip()
    assert re.fullmatch(r"whsec_[A-Za-z0-9+/=]+", secret)
    page.get_by_role("link", name=re.compile("continue")).click()
    assert secret not in page.content()

    api_key, _ = api_key_create(
        workspace=workspace,
        actor=user,
        name="ci",
        environment="development",
        scopes=["inference"],
    )
    [first] = receiver.received
    payload = Webhook(secret).verify(first.body, first.headers)
    assert payload["type"] == "api_key.created"
    assert payload["data"]["key_id"] == api_key.public_id

    page.reload()
    log = page.get_by_role("region", name="Delivery log").last
    expect(log).to_contain_text(first.headers["webhook-id"])
    expect(log).to_contain_text("HTTP 204")

    page.get_by_role("button", name=f"Resend {first.headers['webhook-id']}").click()
    expect(page.get_by_text("queued again")).to_be_visible()
    assert [r.headers["webhook-id"] for r in receiver.received] == [first.headers["webhook-id"]] * 2
