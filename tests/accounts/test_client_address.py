"""The one function that decides the client's address, and the check on its setting."""

import pytest
from django.test import RequestFactory

from accounts.checks import trusted_proxies_check
from accounts.client_address import MAX_HOPS, client_address, parse_address, trusted_proxies

PROXY = "10.0.0.2"


def _request(remote_addr=PROXY, forwarded=None):
    extra = {"REMOTE_ADDR": remote_addr}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    request = RequestFactory().get("/", **extra)
    if remote_addr is None:
        del request.META["REMOTE_ADDR"]
    return request


@pytest.fixture
def behind_proxy(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/24", "2001:db8:ffff::/48"]


def test_by_default_nobody_is_trusted_and_the_header_is_ignored(settings):
    settings.TRUSTED_PROXIES = []

    assert client_address(_request(forwarded="203.0.113.7")) == PROXY


def test_a_header_from_an_untrusted_peer_is_ignored(behind_proxy):
    request = _request(remote_addr="198.51.100.9", forwarded="203.0.113.7")

    assert client_address(request) == "198.51.100.9"


def test_a_trusted_proxy_names_the_client(behind_proxy):
    assert client_address(_request(forwarded="203.0.113.7")) == "203.0.113.7"


def test_what_the_client_wrote_left_of_its_own_address_is_ignored(behind_proxy):
    request = _request(forwarded="1.1.1.1, 127.0.0.1, 203.0.113.7")

    assert client_address(request) == "203.0.113.7"


def test_the_nearest_untrusted_hop_through_a_chain_of_proxies_is_the_client(behind_proxy):
    request = _request(forwarded="1.1.1.1,203.0.113.7, 10.0.0.9,10.0.0.5")

    assert client_address(request) == "203.0.113.7"


def test_when_every_hop_is_trusted_the_farthest_one_is_the_client(behind_proxy):
    assert client_address(_request(forwarded="10.0.0.7, 10.0.0.5")) == "10.0.0.7"


def test_a_trusted_peer_without_a_header_is_itself_the_client(behind_proxy):
    assert client_address(_request()) == PROXY
    assert client_address(_request(forwarded="")) == PROXY


@pytest.mark.parametrize(
    ("forwarded", "expected"),
    [
        ("2001:db8:1::5", "2001:db8:1::5"),
        ("[2001:db8:1::5]:443", "2001:db8:1::5"),
        ("[2001:db8:1::5]", "2001:db8:1::5"),
        ("203.0.113.7:51234", "203.0.113.7"),
        ("2001:0DB8:0001:0000:0000:0000:0000:0005", "2001:db8:1::5"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("fe80::1%eth0", "fe80::1"),
        ("203.0.113.7, 2001:db8:ffff::1", "203.0.113.7"),
    ],
)
def test_ipv6_ports_and_spellings_give_one_canonical_address(behind_proxy, forwarded, expected):
    assert client_address(_request(forwarded=forwarded)) == expected


def test_an_ipv6_peer_is_checked_against_ipv6_networks(behind_proxy):
    trusted = _request(remote_addr="2001:db8:ffff::10", forwarded="2001:db8:1::5")
    untrusted = _request(remote_addr="2001:db8:eeee::10", forwarded="2001:db8:1::5")

    assert client_address(trusted) == "2001:db8:1::5"
    assert client_address(untrusted) == "2001:db8:eeee::10"


def test_an_ipv4_mapped_peer_is_the_same_proxy(behind_proxy):
    assert client_address(_request(remote_addr="::ffff:10.0.0.2", forwarded="203.0.113.7")) == (
        "203.0.113.7"
    )


@pytest.mark.parametrize(
    "forwarded",
    [
        "garbage",
        "203.0.113.7, garbage",
        "203.0.113.7, 999.1.1.1",
        "203.0.113.7,,",
        "203.0.113.7, unknown",
        "203.0.113.7, 10.0.0.0/8",
        "203.0.113.7, [::1",
        "203.0.113.7, 1.2.3.4:99999",
        "203.0.113.7, \x00",
        "203.0.113.7, \udcff",
        "203.0.113.7, \u0661\u0662\u0663.\u0661.\u0661.\u0661",
        "203.0.113.7, " + "1" * 10_000,
        ",".join(["x"] * 100_000),
    ],
)
def test_a_malformed_hop_ends_the_walk_at_the_last_address_that_could_be_read(
    behind_proxy, forwarded
):
    assert client_address(_request(forwarded=forwarded)) == PROXY


def test_a_malformed_hop_behind_a_real_client_does_not_matter(behind_proxy):
    assert client_address(_request(forwarded="garbage, 203.0.113.7")) == "203.0.113.7"


def test_a_chain_of_trusted_hops_is_walked_only_so_far(behind_proxy):
    hops = ["203.0.113.7"] + ["10.0.0.5"] * (MAX_HOPS + 5)

    assert client_address(_request(forwarded=", ".join(hops))) == "10.0.0.5"


@pytest.mark.parametrize("remote_addr", [None, "", "not-an-ip", "10.0.0.2\x00"])
def test_an_unknown_peer_gives_no_address(behind_proxy, remote_addr):
    assert client_address(_request(remote_addr=remote_addr, forwarded="203.0.113.7")) is None


@pytest.mark.parametrize(
    "value",
    [
        ["nonsense", "10.0.0.0/33", "", "  ", "10.0.0.0/24"],
        "nonsense, 10.0.0.0/24",
        ["10.0.0.2"],
        ["10.0.0.7/24"],
        ["::ffff:10.0.0.0/120"],
    ],
)
def test_malformed_trusted_proxies_are_skipped_and_the_rest_still_hold(settings, value):
    settings.TRUSTED_PROXIES = value

    assert client_address(_request(forwarded="203.0.113.7")) == "203.0.113.7"
    untrusted = _request(remote_addr="10.0.1.2", forwarded="203.0.113.7")
    assert client_address(untrusted) == "10.0.1.2"


@pytest.mark.parametrize("value", [None, 5, ["junk"], "junk", [object()]])
def test_a_setting_that_names_no_network_trusts_nobody(settings, value):
    settings.TRUSTED_PROXIES = value

    assert trusted_proxies() == ()
    assert client_address(_request(forwarded="203.0.113.7")) == PROXY


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("203.0.113.7", "203.0.113.7"),
        (" 203.0.113.7 ", "203.0.113.7"),
        ("[::1]:8000", "::1"),
        ("::1", "::1"),
        (None, None),
        (b"203.0.113.7", None),
        ("[::1]x", None),
        ("1.2.3.4:", None),
        ("1.2.3.4:-1", None),
    ],
)
def test_parse_address(value, expected):
    parsed = parse_address(value)

    assert (str(parsed) if parsed else None) == expected


def test_the_system_check_names_each_malformed_trusted_proxy(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8", "10.0.0.0/33", "proxy.internal"]

    warnings = trusted_proxies_check(None)

    assert [w.id for w in warnings] == ["accounts.W001", "accounts.W001"]
    assert "'10.0.0.0/33'" in warnings[0].msg and "'proxy.internal'" in warnings[1].msg


def test_the_system_check_is_quiet_for_good_or_empty_settings(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8", "::1/128"]
    assert trusted_proxies_check(None) == []
    settings.TRUSTED_PROXIES = []
    assert trusted_proxies_check(None) == []
