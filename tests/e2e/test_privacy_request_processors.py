"""A training opt-out carried to two processors, as its requester sees it in chromium."""

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from privacy.processors.models import ProcessorAction
from privacy.processors.services import processor_action_complete, processor_create
from privacy.requests.models import PrivacyRequest, RequestStatus, RequestType
from tests.e2e.browser import age_sign_in, reauthenticate, sign_in
from tests.e2e.test_accessibility import _violations
from tests.factories import UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _processor(name: str):
    processor, _, _ = processor_create(
        name=name,
        purpose=f"{name} for the model API",
        # Loopback, a port nothing listens on: deliveries fail here and are retried later.
        url="http://127.0.0.1:9/processor",
        request_kinds=["opt_out"],
        identifiers=["account_id"],
        actor=None,
    )
    return processor


def test_the_request_page_shows_each_processors_state_until_all_have_completed(page, context):
    person = UserFactory(email="grace@example.com")
    gateway = _processor("Gateway logs")
    abuse = _processor("Abuse store")
    sign_in(page, email=person.email)
    age_sign_in(context)

    page.goto("/privacy/requests/new/")
    reauthenticate(page)
    expect(page).to_have_url(re.compile(r"/privacy/requests/new/$"))
    page.get_by_label("What would you like us to do?").select_option(RequestType.TRAINING_OPT_OUT)
    page.get_by_label("Where do you live?").select_option("eea_uk")
    page.get_by_role("button", name="Submit request").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Opt out of model training")
    table = page.get_by_role("region", name="Processors")
    expect(table.get_by_role("row")).to_have_count(3)
    expect(table.get_by_role("row", name=re.compile("Abuse store"))).to_contain_text("Sent")
    expect(table.get_by_role("row", name=re.compile("Gateway logs"))).to_contain_text("Sent")
    expect(page.locator("#awaiting-processors")).to_be_visible()
    assert _violations(Axe(), page) == []  # WCAG 2.1 A and AA, the processors table included

    request = PrivacyRequest.objects.get(user=person)
    assert request.status == RequestStatus.IN_PROGRESS
    for processor in (gateway, abuse):
        action = ProcessorAction.objects.get(processor=processor)
        processor_action_complete(processor=processor, public_id=action.public_id, result="Done.")
        page.reload()
        row = page.get_by_role("region", name="Processors").get_by_role(
            "row", name=re.compile(processor.name)
        )
        expect(row).to_contain_text("Completed")

    expect(page.locator("#awaiting-processors")).to_have_count(0)
    request.refresh_from_db()
    assert request.status == RequestStatus.COMPLETED
