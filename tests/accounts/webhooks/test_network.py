"""The SSRF corpus: refused when registered and again when delivered, with no request."""

import pytest

from accounts.errors import DomainError
from accounts.webhooks.delivery import webhook_message_deliver
from accounts.webhooks.models import WebhookAttempt, WebhookEndpoint
from accounts.webhooks.network import WebhookUrlRefused, url_check
from accounts.webhooks.services import webhook_endpoint_create, webhook_message_enqueue

pytestmark = pytest.mark.django_db

# Hosts that reach this machine, its private networks or the cloud's metadata service,
# in every spelling; each gets the receiver's port, so a host let through would be heard.
REFUSED_HOSTS = [
    "127.0.0.1",
    "127.1",
    "localhost",
    "localhost.",
    "LOCALHOST",
    "10.0.0.1",
    "172.16.0.1",
    "192.168.1.1",
    "100.64.0.1",
    "169.254.169.254",
    "0.0.0.0",  # noqa: S104 (a host to refuse, not one to bind)
    "224.0.0.1",
    "240.0.0.1",
    "198.18.0.1",
    "[::1]",
    "[::]",
    "[fd00::1]",
    "[fd00:ec2::254]",
    "[fe80::1]",
    "[::ffff:127.0.0.1]",
    "[::ffff:169.254.169.254]",
    "[64:ff9b::7f00:1]",
    "[2002:7f00:1::]",
    "2130706433",
    "0177.0.0.1",
    "0x7f000001",
]


@pytest.fixture
def no_private_networks(settings):
    settings.WEBHOOK_ALLOWED_PRIVATE_NETWORKS = []


@pytest.mark.parametrize("host", REFUSED_HOSTS)
def test_internal_addresses_are_refused_at_registration(
    host, workspace, user, receiver, no_private_networks
):
    with pytest.raises(DomainError) as refused:
        webhook_endpoint_create(
            workspace=workspace,
            url=f"https://{host}:{receiver.port}/hooks",
            event_types=["api_key.created"],
            description="",
            actor=user,
        )
    assert refused.value.code == "webhook_url_refused"
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize("host", REFUSED_HOSTS)
def test_internal_addresses_are_refused_at_delivery_without_a_connection(
    host, workspace, user, receiver, settings
):
    # Registered while admitted (or before its name pointed inside), then checked again.
    endpoint, _ = webhook_endpoint_create(
        workspace=workspace,
        url="https://hooks.example.com/in",
        event_types=["api_key.created"],
        description="",
        actor=user,
    )
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        url=f"https://{host}:{receiver.port}/hooks"
    )
    message = webhook_message_enqueue(endpoint=endpoint, event_type="api_key.created", data={})
    settings.WEBHOOK_ALLOWED_PRIVATE_NETWORKS = []

    assert webhook_message_deliver(message_id=message.pk) is False

    attempt = WebhookAttempt.objects.get(message=message)
    assert attempt.error.startswith("Refused:") and attempt.status_code is None
    assert receiver.received == []


@pytest.mark.parametrize(
    "url",
    [
        "ftp://hooks.example.com/",
        "https://user:pass@hooks.example.com/",
        "https://hooks.example.com:0/",
        "https:///path",
        "https://hooks.example.com/ spaced",
        "https://hooks.example.com/" + "a" * 2000,
        # Plain http only to the admitted private networks.
        "http://hooks.example.com/",
        "http://8.8.8.8/",
    ],
)
def test_malformed_or_plain_http_urls_are_refused(url, no_private_networks):
    with pytest.raises(WebhookUrlRefused):
        url_check(url, resolve_host=False)


def test_a_name_that_does_not_resolve_yet_may_be_registered_but_is_refused_at_delivery(
    workspace, user, receiver
):
    endpoint, _ = webhook_endpoint_create(
        workspace=workspace,
        url="https://not-published-yet.invalid/hooks",
        event_types=["api_key.created"],
        description="",
        actor=user,
    )
    message = webhook_message_enqueue(endpoint=endpoint, event_type="api_key.created", data={})
    webhook_message_deliver(message_id=message.pk)
    assert WebhookAttempt.objects.get(message=message).error.startswith("Refused: The host")


def test_an_admitted_private_network_may_be_reached_over_plain_http(settings, receiver):
    settings.WEBHOOK_ALLOWED_PRIVATE_NETWORKS = ["127.0.0.0/8"]
    target, addresses = url_check(receiver.url)
    assert target.scheme == "http" and [str(a) for a in addresses] == ["127.0.0.1"]
    settings.WEBHOOK_ALLOWED_PRIVATE_NETWORKS = ["10.0.0.0/8"]
    with pytest.raises(WebhookUrlRefused):
        url_check(receiver.url)


def test_a_console_without_egress_refuses_public_addresses_without_connecting(settings):
    settings.WEBHOOK_DELIVER_TO_PUBLIC_NETWORKS = False
    with pytest.raises(WebhookUrlRefused):
        url_check("https://1.1.1.1/hooks")
    with pytest.raises(WebhookUrlRefused):
        url_check("https://[2606:4700::1111]/hooks")


def test_public_addresses_pass_the_check(settings):
    settings.WEBHOOK_ALLOWED_PRIVATE_NETWORKS = []
    target, addresses = url_check("https://1.1.1.1:8443/hooks?x=1")
    assert (target.host, target.port, target.path) == ("1.1.1.1", 8443, "/hooks?x=1")
    assert [str(a) for a in addresses] == ["1.1.1.1"]
