"""The processor registry and overrides in the admin, for the Privacy role."""

import pytest
from django.urls import reverse

from accounts.models import AuditEvent
from privacy.processors.models import ActionState, Processor, ProcessorAction
from privacy.processors.services import processor_authenticate
from privacy.requests.deadlines import Jurisdiction
from privacy.requests.models import RequestType
from privacy.requests.services import privacy_request_submit
from tests.factories import UserFactory
from tests.privacy.processors.support import register_processor
from tests.support import admin_client_with_mfa, staff_member, staff_roles_seed

pytestmark = pytest.mark.django_db


@pytest.fixture
def privacy_staff(db):
    staff_roles_seed()
    return admin_client_with_mfa(staff_member("Privacy"))


def test_privacy_staff_register_a_processor_and_see_its_secret_and_token_once(privacy_staff):
    response = privacy_staff.post(
        reverse("admin:privacy_processor_add"),
        {
            "name": "Abuse store",
            "purpose": "Keeps flagged prompts for abuse review",
            "url": "https://abuse.example.com/privacy",
            "request_kinds": ["erasure", "access"],
            "identifiers": ["account_id", "api_key_ids"],
        },
    )
    assert response.status_code == 200
    page = response.content.decode()
    processor = Processor.objects.get(name="Abuse store")
    assert processor.webhook_endpoint.secret in page
    token = page.split('id="callback-token">')[1].split("<")[0]
    assert processor_authenticate(token=token) == processor
    assert processor.request_kinds == ["access", "erasure"]
    detail = privacy_staff.get(reverse("admin:privacy_processor_change", args=[processor.pk]))
    assert detail.status_code == 200
    assert processor.webhook_endpoint.secret not in detail.content.decode()
    assert token not in detail.content.decode()


def test_rotating_the_token_shows_the_new_one_once_and_the_old_one_stops(privacy_staff):
    processor, _, old = register_processor()
    url = reverse("admin:privacy_processor_rotate", args=[processor.pk, "token"])
    page = privacy_staff.post(url).content.decode()
    new = page.split('id="callback-token">')[1].split("<")[0]
    assert processor_authenticate(token=new) == processor
    assert processor_authenticate(token=old) is None
    assert AuditEvent.objects.filter(action="privacy_processor.token_rotated").exists()


def test_staff_override_an_action_with_a_reason(privacy_staff):
    register_processor(kinds=("restriction",))
    request = privacy_request_submit(
        user=UserFactory(), request_type=RequestType.RESTRICTION, jurisdiction=Jurisdiction.EEA_UK
    )
    action = ProcessorAction.objects.get()
    queue = privacy_staff.get(reverse("admin:privacy_privacyrequest_changelist"))
    assert "0 of 1 done" in queue.content.decode()
    detail = privacy_staff.get(reverse("admin:privacy_privacyrequest_change", args=[request.pk]))
    assert "Gateway logs" in detail.content.decode()
    url = reverse("admin:privacy_processoraction_override", args=[action.pk])
    assert privacy_staff.post(url, {"reason": ""}).status_code == 200  # the form again
    action.refresh_from_db()
    assert action.state == ActionState.SENT
    privacy_staff.post(url, {"reason": "The processor confirmed by letter."})
    action.refresh_from_db()
    assert action.state == ActionState.OVERRIDDEN
    assert action.reason == "The processor confirmed by letter."


def test_other_staff_roles_cannot_register_or_override(db):
    staff_roles_seed()
    client = admin_client_with_mfa(staff_member("Support"))
    assert client.get(reverse("admin:privacy_processor_add")).status_code == 403
    processor, _, _ = register_processor()
    url = reverse("admin:privacy_processor_rotate", args=[processor.pk, "secret"])
    assert client.post(url).status_code == 403
