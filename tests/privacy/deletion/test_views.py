"""Account deletion pages and the retention admin pages."""

import pytest
from django.urls import reverse

from privacy.deletion.models import DeletionRequest, DeletionStatus
from privacy.deletion.services import account_deletion_request, deletion_cancel_token
from tests.factories import DEFAULT_PASSWORD, UserFactory, WorkspaceFactory, add_member

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_in(client, user):
    client.force_login(user)
    response = client.post(reverse("account_reauthenticate"), {"password": DEFAULT_PASSWORD})
    assert response.status_code == 302
    return client


def test_delete_page_needs_recent_authentication(client, user):
    client.force_login(user)

    response = client.get(reverse("account_delete"))

    assert response.status_code == 302
    assert "reauthenticate" in response["Location"]


def test_delete_page_explains_which_workspaces_go_and_which_stay(signed_in, user):
    WorkspaceFactory(owner=user, name="Solo")
    shared = WorkspaceFactory(owner=UserFactory(), name="Team")
    add_member(shared, "owner", user=user)

    response = signed_in.get(reverse("account_delete"))

    body = response.content.decode()
    assert response.status_code == 200
    assert "deleted with your account" in body and "Solo" in body
    assert "keep their data" in body and "Team" in body


def test_confirming_schedules_the_deletion_and_shows_the_pending_banner(signed_in, user):
    response = signed_in.post(reverse("account_delete"), {"confirm": "delete my account"})

    assert response.status_code == 302
    assert DeletionRequest.objects.get().status == DeletionStatus.PENDING
    page = signed_in.get(reverse("account_delete")).content.decode()
    assert "scheduled for deletion" in page and "Cancel the deletion" in page


def test_wrong_confirmation_changes_nothing(signed_in):
    response = signed_in.post(reverse("account_delete"), {"confirm": "x" * 5000})

    assert response.status_code == 400
    assert not DeletionRequest.objects.exists()


def test_signed_in_cancel(signed_in, user):
    account_deletion_request(user=user)

    signed_in.post(reverse("account_delete_cancel"))

    assert DeletionRequest.objects.get().status == DeletionStatus.CANCELLED


def test_emailed_link_cancels_on_post_only(client, user):
    deletion = account_deletion_request(user=user)
    url = reverse("account_delete_cancel_link", args=[deletion_cancel_token(deletion=deletion)])

    assert client.get(url).status_code == 200
    assert DeletionRequest.objects.get().status == DeletionStatus.PENDING
    client.post(url)
    assert DeletionRequest.objects.get().status == DeletionStatus.CANCELLED


def test_forged_link_is_not_found(client):
    assert client.get(reverse("account_delete_cancel_link", args=["nope"])).status_code == 404


def test_retention_overview_is_staff_only(client, admin_user):
    url = reverse("admin:privacy_retention_overview")
    assert client.get(url).status_code == 302
    client.force_login(admin_user)

    response = client.get(url)

    # The admin may ask staff for MFA first; either way no data reaches non-staff.
    assert response.status_code in (200, 302)
