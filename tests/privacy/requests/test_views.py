import pytest
from django.core import mail
from django.urls import reverse

from privacy.requests.models import PrivacyRequest, RequestStatus
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def _reauthenticated(client, user):
    """Sign in, then confirm the password again as sensitive pages require."""
    client.force_login(user)
    response = client.post(reverse("account_reauthenticate"), {"password": DEFAULT_PASSWORD})
    assert response.status_code == 302
    return client


def test_new_request_page_asks_for_reauthentication(client, user):
    client.force_login(user)
    response = client.post(
        reverse("privacy_request_create"),
        {"request_type": "correction", "jurisdiction": "eea_uk", "details": "x"},
    )
    assert response.status_code == 302
    assert "reauthenticate" in response["Location"]
    assert PrivacyRequest.objects.count() == 0


def test_signed_in_user_submits_and_sees_due_date(client, user):
    _reauthenticated(client, user)
    response = client.post(
        reverse("privacy_request_create"),
        {"request_type": "correction", "jurisdiction": "eea_uk", "details": "My name is wrong"},
    )
    created = PrivacyRequest.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("privacy_request_detail", args=[created.pk])
    page = client.get(response["Location"]).content.decode()
    assert "Answer due" in page and created.due_date.strftime("%B %Y") in page
    listing = client.get(reverse("privacy_request_list")).content.decode()
    assert "Correction of inaccurate data" in listing


def test_invalid_form_changes_nothing(client, user):
    _reauthenticated(client, user)
    response = client.post(
        reverse("privacy_request_create"), {"request_type": "nonsense", "jurisdiction": "eea_uk"}
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert PrivacyRequest.objects.count() == 0


def test_other_users_request_is_not_found(client, user):
    _reauthenticated(client, user)
    client.post(
        reverse("privacy_request_create"),
        {"request_type": "objection", "jurisdiction": "eea_uk"},
    )
    request = PrivacyRequest.objects.get()
    intruder = UserFactory()
    client.force_login(intruder)
    assert client.get(reverse("privacy_request_detail", args=[request.pk])).status_code == 404
    response = client.post(reverse("privacy_request_cancel", args=[request.pk]))
    assert response.status_code == 404
    request.refresh_from_db()
    assert request.status == RequestStatus.VERIFIED


def test_public_form_sends_a_link_and_post_confirms(client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("privacy_request_public"),
            {
                "request_type": "child_report",
                "jurisdiction": "california",
                "email": "parent@example.com",
                "name": "A Parent",
                "details": "My child (12) has an account.",
            },
        )
    assert response.status_code == 200
    request = PrivacyRequest.objects.get()
    assert request.status == RequestStatus.UNCONFIRMED
    link = next(line for line in mail.outbox[0].body.splitlines() if "/confirm/" in line)
    path = link.strip().split("127.0.0.1:8000", 1)[-1]
    assert client.get(path).status_code == 200  # a GET (link scanner) starts nothing
    request.refresh_from_db()
    assert request.status == RequestStatus.UNCONFIRMED
    assert client.post(path).status_code == 200
    request.refresh_from_db()
    assert request.status == RequestStatus.RECEIVED and request.due_date
    assert client.post(path).status_code == 404


def test_public_form_is_rate_limited_per_ip(client):
    data = {"request_type": "objection", "jurisdiction": "eea_uk", "email": "x@example.com"}
    codes = [client.post(reverse("privacy_request_public"), data).status_code for _ in range(6)]
    assert codes[:5] == [200] * 5
    assert codes[5] == 429
    assert PrivacyRequest.objects.count() == 5
