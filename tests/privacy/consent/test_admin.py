"""Staff look consent decisions up in the admin and publish policy versions through it."""

import uuid

import pytest

from privacy.consent.services import consent_record
from tests.factories import UserFactory
from tests.privacy.policy_support import policies_in_force
from tests.support import admin_client_with_mfa

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(db):
    return admin_client_with_mfa(UserFactory(is_staff=True, is_superuser=True))


def test_staff_find_a_decision_by_visitor_id_or_by_email(staff_client):
    policies_in_force()
    person = UserFactory(email="findme@example.com")
    visitor = uuid.uuid4()
    consent_record(
        visitor_id=visitor, preferences=False, analytics=True, marketing=False, method="button"
    )
    consent_record(
        visitor_id=uuid.uuid4(), user=person, preferences=True, analytics=False,
        marketing=False, method="settings",
    )  # fmt: skip
    url = "/admin/privacy/consentrecord/"
    by_visitor = staff_client.get(url, {"q": str(visitor)}).content.decode()
    assert str(visitor) in by_visitor and "necessary, analytics" in by_visitor
    assert "findme@example.com" not in by_visitor
    by_email = staff_client.get(url, {"q": "findme@"}).content.decode()
    assert "findme@example.com" in by_email and str(visitor) not in by_email
    assert staff_client.get(f"{url}add/").status_code == 403
