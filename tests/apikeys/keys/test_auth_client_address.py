"""Key IP allowlists and the leak-report limit see the client behind the proxy."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from apikeys.keys import api as views

pytestmark = pytest.mark.django_db(transaction=True)

PROXY = "10.0.0.2"


@pytest.fixture
def behind_proxy(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/24"]


def _from(forwarded, remote_addr=PROXY, **credentials) -> APIClient:
    client = APIClient(REMOTE_ADDR=remote_addr, HTTP_X_FORWARDED_FOR=forwarded)
    client.credentials(**credentials)
    return client


def test_a_management_keys_ip_allowlist_sees_the_client_behind_the_proxy(
    behind_proxy, make_key, workspace
):
    _key, full = make_key(scopes=["members.read"], allowed_ips=["203.0.113.0/24"])
    url = reverse("api-member-list", kwargs={"workspace_id": workspace.pk})
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {full}"}

    inside = _from("203.0.113.7", **bearer).get(url)
    outside = _from("198.51.100.7", **bearer).get(url)
    spoofed = _from("203.0.113.7", remote_addr="192.0.2.9", **bearer).get(url)

    assert inside.status_code == 200
    assert outside.status_code == 403
    assert "not valid (ip_not_allowed)" in outside.json()["error"]["message"]
    assert spoofed.status_code == 403


def test_the_leak_report_limit_counts_each_client_apart(behind_proxy, monkeypatch):
    monkeypatch.setattr(views, "LEAK_REPORTS_PER_MINUTE", 2)
    url = reverse("api-key-report-leak")

    def report(forwarded, remote_addr=PROXY):
        return _from(forwarded, remote_addr).post(url, {"key": "x"}, format="json").status_code

    assert [report("203.0.113.1") for _ in range(3)] == [202, 202, 429]
    assert [report("203.0.113.2") for _ in range(2)] == [202, 202]
    spoofed = [report(f"203.0.113.{n}", remote_addr="192.0.2.9") for n in range(10, 13)]
    assert spoofed == [202, 202, 429]
