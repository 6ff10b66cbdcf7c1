"""REST: /api/v1/privacy/settings/ and /api/v1/privacy/consent/."""

import uuid

import pytest
from django.test import Client

from privacy.consent import cookies
from privacy.consent.cookies import BANNER_TEXT_VERSION, CONSENT_COOKIE, VISITOR_COOKIE
from privacy.consent.models import ConsentRecord

pytestmark = pytest.mark.django_db

SETTINGS_URL = "/api/v1/privacy/settings/"
CONSENT_URL = "/api/v1/privacy/consent/"


def _csrf_client() -> tuple[Client, str]:
    """An anonymous browser that fetched a page, so it holds a CSRF cookie and token."""
    client = Client(enforce_csrf_checks=True)
    client.get("/accounts/login/")
    return client, client.cookies["csrftoken"].value


def test_anonymous_consent_without_csrf_token_is_refused_and_records_nothing():
    client, _token = _csrf_client()
    response = client.post(CONSENT_URL, {"choice": "accept_all"}, content_type="application/json")
    assert response.status_code == 403
    assert "error" in response.json()
    assert ConsentRecord.objects.count() == 0


def test_anonymous_consent_is_recorded_and_readable_through_the_visitor_id():
    client, token = _csrf_client()
    response = client.post(
        CONSENT_URL,
        {"choice": "custom", "analytics": True, "method": "button"},
        content_type="application/json",
        headers={"X-CSRFToken": token},
    )
    assert response.status_code == 201
    body = response.json()
    assert body["categories"] == ["necessary", "analytics"]
    assert body["needs_consent"] is False
    visitor = client.cookies[VISITOR_COOKIE].value
    assert body["visitor_id"] == visitor
    assert client.cookies[CONSENT_COOKIE].value.endswith(f".010.{BANNER_TEXT_VERSION}")
    record = ConsentRecord.objects.get()
    assert str(record.visitor_id) == visitor and record.method == "button"

    fresh = Client()
    read = fresh.get(CONSENT_URL, {"visitor_id": visitor}).json()
    assert read["analytics"] is True
    assert [entry["method"] for entry in read["history"]] == ["button"]
    assert "ip_hash" not in read["history"][0]


@pytest.mark.parametrize(
    "payload",
    [
        {"choice": "everything"},
        {"method": "gpc"},
        {"analytics": "lots"},
        {"visitor_id": "not-a-uuid"},
        {"choice": "accept_all", "extra": True},
    ],
)
def test_bad_consent_input_is_a_400_and_records_nothing(payload):
    client, token = _csrf_client()
    response = client.post(
        CONSENT_URL, payload, content_type="application/json", headers={"X-CSRFToken": token}
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert ConsentRecord.objects.count() == 0


def test_consent_read_with_a_malformed_visitor_id_is_a_400(client):
    response = client.get(CONSENT_URL, {"visitor_id": "x' OR 1=1"})
    assert response.status_code == 400
    assert response.json()["error"]["fields"]["visitor_id"]


def test_consent_read_for_an_unknown_visitor_asks_for_consent(client):
    body = client.get(CONSENT_URL, {"visitor_id": str(uuid.uuid4())}).json()
    assert body["needs_consent"] is True
    assert body["categories"] == ["necessary"]
    assert body["history"] == []


def test_consent_state_asks_again_after_the_banner_wording_changes(monkeypatch):
    client, token = _csrf_client()
    response = client.post(
        CONSENT_URL,
        {"choice": "accept_all", "method": "button"},
        content_type="application/json",
        headers={"X-CSRFToken": token},
    )
    assert response.json()["needs_consent"] is False
    assert client.get(CONSENT_URL).json()["needs_consent"] is False
    monkeypatch.setattr(cookies, "BANNER_TEXT_VERSION", "2099-01-a")
    body = client.get(CONSENT_URL).json()
    assert body["needs_consent"] is True and body["categories"] == ["necessary"]
