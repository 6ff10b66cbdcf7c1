"""DRF throttles count per client address, never per header a client can write."""

import pytest
from django.test import RequestFactory
from rest_framework.request import Request

from accounts.throttling import AnonRateThrottle

PROXY = "10.0.0.2"


class TwoPerMinute(AnonRateThrottle):
    scope = "test-client-address"
    rate = "2/min"


def _allowed(forwarded, remote_addr=PROXY) -> bool:
    request = Request(
        RequestFactory().get("/", REMOTE_ADDR=remote_addr, HTTP_X_FORWARDED_FOR=forwarded)
    )
    return TwoPerMinute().allow_request(request, view=None)


@pytest.fixture
def behind_proxy(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/24"]


def test_each_client_behind_the_proxy_is_throttled_apart(behind_proxy):
    assert [_allowed("203.0.113.1") for _ in range(3)] == [True, True, False]
    assert [_allowed("203.0.113.2") for _ in range(2)] == [True, True]


def test_a_spoofed_header_from_an_untrusted_peer_is_not_a_new_client(behind_proxy):
    answers = [_allowed(f"203.0.113.{n}", remote_addr="192.0.2.9") for n in range(3)]

    assert answers == [True, True, False]
