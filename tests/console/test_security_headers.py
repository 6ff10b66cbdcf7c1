"""The security headers and cookie flags that production settings actually send."""

import importlib
import sys

import pytest

from console.settings import base
from tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db

# What console.settings.production decides about transport, cookies and headers.
SECURITY_SETTINGS = (
    "DEBUG",
    "SECURE_PROXY_SSL_HEADER",
    "SECURE_SSL_REDIRECT",
    "SECURE_REDIRECT_EXEMPT",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "SECURE_REFERRER_POLICY",
    "SECURE_CONTENT_TYPE_NOSNIFF",
    "SESSION_COOKIE_SECURE",
    "SESSION_COOKIE_HTTPONLY",
    "SESSION_COOKIE_SAMESITE",
    "CSRF_COOKIE_SECURE",
    "CSRF_COOKIE_HTTPONLY",
    "CONTENT_SECURITY_POLICY",
    "X_FRAME_OPTIONS",
)
HTTPS = {"x-forwarded-proto": "https"}


@pytest.fixture
def production(settings, monkeypatch):
    """Apply the security settings of the production module, loaded as in production."""
    monkeypatch.setenv("SECRET_KEY", "production-like-secret-" + "x" * 50)
    monkeypatch.setenv("ALLOWED_HOSTS", "testserver")
    monkeypatch.setenv("ENCRYPTION_KEYS", "k1:" + "A" * 43 + "=")
    monkeypatch.setenv("AUDIT_CHAIN_KEYS", "a1:" + "C" * 43 + "=")
    monkeypatch.setenv("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
    monkeypatch.delenv("SECURE_SSL_REDIRECT", raising=False)
    for name in ("SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_HSTS_PRELOAD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(base, "REDIS_URL", "redis://127.0.0.1:6379/0")
    sys.modules.pop("console.settings.production", None)
    try:
        module = importlib.import_module("console.settings.production")
    finally:
        sys.modules.pop("console.settings.production", None)
    for name in SECURITY_SETTINGS:
        setattr(settings, name, getattr(module, name))
    return module


def _csp(response) -> dict[str, list[str]]:
    directives = {}
    for part in response["Content-Security-Policy"].split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


def test_plain_http_is_redirected_to_https(client, production):
    response = client.get("/accounts/login/")

    assert response.status_code == 301
    assert response["Location"] == "https://testserver/accounts/login/"


def test_health_check_answers_over_plain_http_for_load_balancers(client, production):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert "Strict-Transport-Security" not in response


def test_https_response_sends_hsts_for_a_year_with_subdomains_and_preload(client, production):
    response = client.get("/accounts/login/", headers=HTTPS)

    assert response.status_code == 200
    assert response["Strict-Transport-Security"] == ("max-age=31536000; includeSubDomains; preload")


def test_csp_allows_scripts_only_from_the_site_itself(client, production):
    csp = _csp(client.get("/accounts/login/", headers=HTTPS))

    assert csp["script-src"] == ["'self'"]
    assert csp["default-src"] == ["'self'"]
    assert csp["object-src"] == ["'none'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert not any("unsafe" in value for values in csp.values() for value in values)


def test_pages_forbid_framing_sniffing_and_cross_site_referrers(client, production):
    response = client.get("/accounts/login/", headers=HTTPS)

    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


def test_session_and_csrf_cookies_are_secure_and_http_only(client, production, user):
    response = client.post(
        "/accounts/login/",
        {"login": user.email, "password": DEFAULT_PASSWORD},
        headers=HTTPS,
    )

    assert response.status_code == 302
    session = response.cookies["sessionid"]
    assert session["secure"] is True
    assert session["httponly"] is True
    assert session["samesite"] == "Lax"
    csrf = response.cookies["csrftoken"]
    assert csrf["secure"] is True
    assert csrf["httponly"] is True
