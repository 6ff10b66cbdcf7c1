"""Webhook pages: one-time secret, re-authentication and roles as in the REST API."""

import pytest
from django.urls import reverse

from accounts.permissions import Role
from accounts.webhooks.delivery import webhook_message_deliver
from accounts.webhooks.models import WebhookEndpoint, WebhookMessageStatus
from accounts.webhooks.services import webhook_endpoint_create, webhook_message_enqueue
from tests.factories import DEFAULT_PASSWORD, UserFactory, add_member
from tests.support import api_client_signed_in

pytestmark = pytest.mark.django_db


def _reauthenticated(user):
    """A browser session whose password was confirmed just now."""
    return api_client_signed_in(user)


def _create(client, workspace, url="https://hooks.example.com/in"):
    return client.post(
        reverse("webhook_create", kwargs={"workspace_id": workspace.pk}),
        {"url": url, "description": "CI", "event_types": ["api_key.created"]},
    )


@pytest.fixture
def endpoint(workspace, user, receiver):
    endpoint, _ = webhook_endpoint_create(
        workspace=workspace,
        url=receiver.url,
        event_types=["api_key.created"],
        description="receiver",
        actor=user,
    )
    return endpoint


def test_adding_an_endpoint_shows_its_secret_once(workspace, user):
    client = _reauthenticated(user)
    response = _create(client, workspace)
    assert response.status_code == 201
    assert "no-store" in response["Cache-Control"]
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.secret in response.content.decode()
    detail = client.get(
        reverse("webhook_detail", kwargs={"workspace_id": workspace.pk, "endpoint_id": endpoint.pk})
    )
    assert detail.status_code == 200 and endpoint.secret not in detail.content.decode()


def test_adding_an_endpoint_asks_for_the_password_again(client, workspace, user):
    client.force_login(user)
    response = _create(client, workspace)
    assert response.status_code == 302
    assert reverse("account_reauthenticate") in response["Location"]
    assert not WebhookEndpoint.objects.exists()
    client.post(response["Location"], {"password": DEFAULT_PASSWORD}, follow=True)
    assert WebhookEndpoint.objects.count() == 1


def test_an_internal_url_is_refused_on_the_form(workspace, user, settings):
    settings.WEBHOOK_ALLOWED_PRIVATE_NETWORKS = []
    response = _create(_reauthenticated(user), workspace, url="https://169.254.169.254/")
    assert response.status_code == 400
    assert "not a public address" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize("role", [Role.DEVELOPER, Role.VIEWER, None])
def test_developers_viewers_and_strangers_get_404(client, workspace, endpoint, role):
    person = add_member(workspace, role=role).user if role else UserFactory()
    client.force_login(person)
    kwargs = {"workspace_id": workspace.pk}
    assert client.get(reverse("webhook_list", kwargs=kwargs)).status_code == 404
    detail = reverse("webhook_detail", kwargs={**kwargs, "endpoint_id": endpoint.pk})
    assert client.get(detail).status_code == 404
    delete = reverse("webhook_delete", kwargs={**kwargs, "endpoint_id": endpoint.pk})
    assert client.post(delete).status_code == 404
    assert WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()


def test_the_tab_shows_for_owners_and_admins_only(client, workspace, user):
    client.force_login(user)
    page = client.get(reverse("workspace_members", kwargs={"workspace_id": workspace.pk}))
    assert reverse("webhook_list", kwargs={"workspace_id": workspace.pk}) in page.content.decode()
    developer = add_member(workspace, role=Role.DEVELOPER).user
    client.force_login(developer)
    page = client.get(reverse("workspace_members", kwargs={"workspace_id": workspace.pk}))
    assert "webhooks/" not in page.content.decode()


def test_the_delivery_log_shows_attempts_and_resend_queues_again(
    client, workspace, user, endpoint, receiver
):
    message = webhook_message_enqueue(endpoint=endpoint, event_type="api_key.created", data={})
    webhook_message_deliver(message_id=message.pk)
    client.force_login(user)
    kwargs = {"workspace_id": workspace.pk, "endpoint_id": endpoint.pk}
    page = client.get(reverse("webhook_detail", kwargs=kwargs)).content.decode()
    assert message.pk in page and "HTTP 204" in page
    resend = reverse("webhook_resend", kwargs={**kwargs, "message_id": message.pk})
    assert client.post(resend).status_code == 302
    message.refresh_from_db()
    assert message.status == WebhookMessageStatus.PENDING


def test_changing_the_url_asks_for_the_password_again_but_the_description_does_not(
    client, workspace, user, endpoint
):
    client.force_login(user)
    url = reverse(
        "webhook_detail", kwargs={"workspace_id": workspace.pk, "endpoint_id": endpoint.pk}
    )
    same = {
        "url": endpoint.url,
        "description": "new",
        "event_types": ["api_key.created"],
        "enabled": "on",
    }
    assert client.post(url, same).status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.description == "new"
    moved = {**same, "url": "https://elsewhere.example.com/"}
    response = client.post(url, moved)
    assert reverse("account_reauthenticate") in response["Location"]
    endpoint.refresh_from_db()
    assert endpoint.url != "https://elsewhere.example.com/"


def test_rotating_shows_the_new_secret_once(workspace, user, endpoint):
    client = _reauthenticated(user)
    kwargs = {"workspace_id": workspace.pk, "endpoint_id": endpoint.pk}
    response = client.post(reverse("webhook_rotate", kwargs=kwargs))
    endpoint.refresh_from_db()
    assert response.status_code == 200 and endpoint.secret in response.content.decode()
    assert endpoint.previous_secret_expires_at is not None
