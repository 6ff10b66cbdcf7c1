import json

import pytest
from django.conf import settings
from django.test import override_settings
from django.urls import reverse

from apikeys.keys.middleware import VERIFY_PATH

pytestmark = pytest.mark.django_db


def _verify(client, **extra):
    return client.post(
        VERIFY_PATH,
        data=json.dumps({"key": "cnsl_dev_not-a-real-key"}),
        content_type="application/json",
        **extra,
    )


def test_fast_lane_serves_the_routed_verify_address():
    assert reverse("api-key-verify") == VERIFY_PATH


def test_verify_skips_the_browser_middleware_but_keeps_its_own_checks(client):
    token = settings.GATEWAY_TOKENS[0]
    answered = _verify(client, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert answered.status_code == 200
    assert answered.json()["code"] == "malformed"
    # Nothing browser-facing ran: no CSP header, no session or CSRF cookie.
    assert "Content-Security-Policy" not in answered
    assert not answered.cookies
    assert answered["X-Content-Type-Options"] == "nosniff"  # SecurityMiddleware still ran
    refused = _verify(client)
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "not_authenticated"


def test_other_pages_still_get_the_full_stack(client):
    response = client.get(reverse("account_login"))
    assert "Content-Security-Policy" in response


@override_settings(SECURE_SSL_REDIRECT=True)
def test_plain_http_verify_is_still_redirected_to_https(client):
    response = _verify(client)
    assert response.status_code == 301
    assert response["Location"].startswith("https://")
