"""allauth asks our adapter for the client's address: its rate limits and session list."""

import pytest
from allauth.account.adapter import get_adapter
from allauth.usersessions.models import UserSession
from django.core.exceptions import PermissionDenied
from django.test import Client, RequestFactory
from django.urls import reverse

from accounts.audit import Action
from accounts.models import AuditEvent
from console.settings.base import ACCOUNT_RATE_LIMITS
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

PROXY = "10.0.0.2"


@pytest.fixture
def behind_proxy(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/24"]
    settings.ACCOUNT_RATE_LIMITS = ACCOUNT_RATE_LIMITS


def _browser(forwarded=None, remote_addr=PROXY) -> Client:
    extra = {"REMOTE_ADDR": remote_addr}
    if forwarded:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return Client(**extra)


def _fail_login(browser, attempt: int):
    return browser.post(
        reverse("account_login"),
        {"login": f"nobody{attempt}@example.org", "password": "wrong wrong wrong 1"},
    )


def _locked_out(response) -> bool:
    return response.status_code == 429 or b"Too many failed login attempts" in response.content


def test_one_clients_failed_logins_do_not_lock_out_another_behind_the_proxy(behind_proxy):
    user = UserFactory()
    attacker = _browser("203.0.113.66")
    answers = [_fail_login(attacker, attempt) for attempt in range(11)]
    assert not any(_locked_out(r) for r in answers[:10])
    assert _locked_out(answers[10])

    response = _browser("198.51.100.7").post(
        reverse("account_login"), {"login": user.email, "password": DEFAULT_PASSWORD}
    )

    assert response.status_code == 302


def test_a_spoofed_header_from_an_untrusted_peer_does_not_escape_the_lockout(behind_proxy):
    answers = [
        _fail_login(_browser(f"203.0.113.{n}", remote_addr="192.0.2.9"), n) for n in range(11)
    ]

    assert _locked_out(answers[10])


def test_the_session_list_records_the_client_not_the_proxy(behind_proxy):
    user = UserFactory()
    browser = _browser("198.51.100.7")

    browser.post(reverse("account_login"), {"login": user.email, "password": DEFAULT_PASSWORD})
    browser.get(reverse("usersessions_list"))

    assert [s.ip for s in UserSession.objects.filter(user=user)] == ["198.51.100.7"]


def test_failed_logins_are_audited_with_the_client_address(behind_proxy):
    _fail_login(_browser("203.0.113.66"), 0)
    _fail_login(_browser("203.0.113.66", remote_addr="192.0.2.9"), 1)

    addresses = [e.ip_address for e in AuditEvent.objects.filter(action=Action.LOGIN_FAILED)]
    assert sorted(addresses) == ["192.0.2.9", "203.0.113.66"]


def test_the_adapter_refuses_a_request_without_an_address():
    request = RequestFactory().get("/")
    del request.META["REMOTE_ADDR"]

    with pytest.raises(PermissionDenied):
        get_adapter().get_client_ip(request)
