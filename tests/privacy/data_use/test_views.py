"""HTML pages: banner, cookie settings, policy pages, sign-up acceptance, settings pages."""

import pytest
from django.test import Client

from accounts.permissions import Role
from privacy.data_use.models import PrivacySettings
from tests.factories import add_member
from tests.privacy.policy_support import policies_in_force

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def policies(db):
    return policies_in_force()


def test_privacy_settings_page_saves_and_shows_the_restriction_read_only(client, user):
    PrivacySettings.objects.create(user=user, processing_restricted=True)
    client.force_login(user)
    page = client.get("/privacy/settings/").content.decode()
    assert "processing_restricted" not in page and "Restricted" in page
    response = client.post(
        "/privacy/settings/", {"do_not_sell_or_share": "on", "processing_restricted": ""}
    )
    assert response.status_code == 302
    row = PrivacySettings.objects.get(user=user)
    assert row.do_not_sell_or_share and row.processing_restricted


def test_workspace_privacy_page_refuses_developers_and_bad_retention(client, workspace, user):
    developer = add_member(workspace, Role.DEVELOPER).user
    other = Client()
    other.force_login(developer)
    assert other.get(f"/privacy/workspaces/{workspace.pk}/").status_code == 404
    client.force_login(user)
    response = client.post(
        f"/privacy/workspaces/{workspace.pk}/",
        {"usage_retention_days": "120", "zero_data_retention": "on"},
    )
    assert response.status_code == 400
    workspace.refresh_from_db()
    assert workspace.zero_data_retention is False
    response = client.post(
        f"/privacy/workspaces/{workspace.pk}/",
        {"usage_retention_days": "60", "zero_data_retention": "on"},
    )
    assert response.status_code == 302
    workspace.refresh_from_db()
    assert (workspace.usage_retention_days, workspace.zero_data_retention) == (60, True)
