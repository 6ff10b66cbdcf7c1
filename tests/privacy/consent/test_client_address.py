"""Consent proofs hash the client's address, not the proxy's."""

import pytest
from django.test import Client

from privacy.consent.cookies import ip_hash
from privacy.models import ConsentRecord

pytestmark = pytest.mark.django_db

CONSENT_URL = "/api/v1/privacy/consent/"


@pytest.mark.parametrize(
    ("remote_addr", "client"),
    [("10.0.0.2", "203.0.113.7"), ("192.0.2.9", "192.0.2.9")],
)
def test_consent_proof_hashes_the_client_behind_a_trusted_proxy_only(settings, remote_addr, client):
    settings.TRUSTED_PROXIES = ["10.0.0.0/24"]
    browser = Client(
        enforce_csrf_checks=True, REMOTE_ADDR=remote_addr, HTTP_X_FORWARDED_FOR="203.0.113.7"
    )
    browser.get("/accounts/login/")

    response = browser.post(
        CONSENT_URL,
        {"choice": "reject_all", "method": "button"},
        content_type="application/json",
        headers={"X-CSRFToken": browser.cookies["csrftoken"].value},
    )

    assert response.status_code == 201
    assert ConsentRecord.objects.get().ip_hash == ip_hash(client)
