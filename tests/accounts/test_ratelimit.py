"""The console's own per-client limit counts each client behind the proxy apart."""

import pytest
from django.http import HttpResponse
from django.test import RequestFactory

from accounts.ratelimit import rate_limited

PROXY = "10.0.0.2"


@rate_limited("test-client-address", limit=2, period=60)
def _view(request):
    return HttpResponse("ok")


def _post(forwarded, remote_addr=PROXY):
    return _view(
        RequestFactory().post("/", REMOTE_ADDR=remote_addr, HTTP_X_FORWARDED_FOR=forwarded)
    )


@pytest.fixture
def behind_proxy(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/24"]


def test_each_client_behind_the_proxy_has_its_own_budget(behind_proxy):
    first = [_post("203.0.113.1").status_code for _ in range(3)]
    second = [_post("203.0.113.2").status_code for _ in range(2)]

    assert first == [200, 200, 429]
    assert second == [200, 200]


def test_a_spoofed_header_from_an_untrusted_peer_shares_the_peers_budget(behind_proxy):
    codes = [_post(f"203.0.113.{n}", remote_addr="192.0.2.9").status_code for n in range(3)]

    assert codes == [200, 200, 429]
