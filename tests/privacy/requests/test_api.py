import pytest
from rest_framework.test import APIClient

from privacy.requests.models import PrivacyRequest
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_create_list_read_and_cancel(api, user):
    created = api.post(
        "/api/v1/privacy/requests/",
        {"request_type": "correction", "jurisdiction": "california", "details": "Fix my name"},
        format="json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["status"] == "verified" and body["acknowledge_by"] and body["due_date"]
    listed = api.get("/api/v1/privacy/requests/").json()
    assert [item["id"] for item in listed["results"]] == [body["id"]]
    assert api.get(f"/api/v1/privacy/requests/{body['id']}/").json()["id"] == body["id"]
    cancelled = api.post(f"/api/v1/privacy/requests/{body['id']}/cancel/")
    assert cancelled.json()["status"] == "cancelled"
    again = api.post(f"/api/v1/privacy/requests/{body['id']}/cancel/")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "invalid_transition"


def test_bad_input_answers_400_in_the_error_format_and_stores_nothing(api):
    response = api.post(
        "/api/v1/privacy/requests/",
        {"request_type": "mind_reading", "jurisdiction": "eea_uk", "details": "x" * 6000},
        format="json",
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert set(error["fields"]) == {"request_type", "details"}
    assert PrivacyRequest.objects.count() == 0


def test_another_users_request_is_404(api):
    other = APIClient()
    other.force_authenticate(UserFactory())
    created = other.post(
        "/api/v1/privacy/requests/",
        {"request_type": "objection", "jurisdiction": "eea_uk"},
        format="json",
    ).json()
    assert api.get(f"/api/v1/privacy/requests/{created['id']}/").status_code == 404
    assert api.post(f"/api/v1/privacy/requests/{created['id']}/cancel/").status_code == 404


def test_anonymous_is_refused():
    assert APIClient().get("/api/v1/privacy/requests/").status_code in (401, 403)
