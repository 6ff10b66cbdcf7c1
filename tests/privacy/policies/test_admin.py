"""Staff look consent decisions up in the admin and publish policy versions through it."""

import pytest
from django.utils import timezone

from privacy.policies.models import PolicyVersion
from privacy.policies.services import policy_version_create
from tests.factories import UserFactory
from tests.support import admin_client_with_mfa

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(db):
    return admin_client_with_mfa(UserFactory(is_staff=True, is_superuser=True))


def test_staff_publish_a_draft_with_the_admin_action(staff_client):
    staff = UserFactory(is_staff=True)
    draft = policy_version_create(
        actor=staff,
        kind="cookie",
        version="admin-1",
        title="Cookie policy",
        body_markdown="Text.",
        effective_at=timezone.now(),
    )
    response = staff_client.post(
        "/admin/privacy/policyversion/",
        {"action": "publish", "_selected_action": [draft.pk]},
    )
    assert response.status_code == 302
    assert PolicyVersion.objects.get(pk=draft.pk).published_at is not None
