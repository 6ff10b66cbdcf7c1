import pytest

from accounts.audit import Action
from accounts.models import AuditEvent
from accounts.permissions import Role
from accounts.webhooks.delivery import webhook_message_deliver
from accounts.webhooks.models import WebhookEndpoint
from accounts.webhooks.services import webhook_endpoint_create, webhook_message_enqueue
from tests.factories import add_member
from tests.support import api_client_signed_in

pytestmark = pytest.mark.django_db


def _base(workspace) -> str:
    return f"/api/v1/workspaces/{workspace.pk}/webhooks/"


def _create(client, workspace, **body):
    body = {"url": "https://hooks.example.com/in", "event_types": ["api_key.created"], **body}
    return client.post(_base(workspace), body, format="json")


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


def test_an_owner_registers_an_endpoint_and_sees_its_secret_only_once(workspace, user):
    client = api_client_signed_in(user)
    created = _create(client, workspace, description="CI")
    assert created.status_code == 201, created.json()
    assert created.json()["secret"].startswith("whsec_")
    assert "no-store" in created["Cache-Control"]
    endpoint_id = created.json()["id"]

    shown = client.get(f"{_base(workspace)}{endpoint_id}/").json()
    assert "secret" not in shown
    listed = client.get(_base(workspace)).json()["results"]
    assert [e["id"] for e in listed] == [endpoint_id]
    assert all("secret" not in e for e in listed)


def test_registering_needs_a_recent_sign_in(workspace, user):
    client = api_client_signed_in(user, reauthenticated_seconds_ago=None)
    refused = _create(client, workspace)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "reauthentication_required"
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize("role", [Role.DEVELOPER, Role.VIEWER])
def test_developers_and_viewers_neither_see_nor_manage_endpoints(workspace, endpoint, role):
    member = add_member(workspace, role=role).user
    client = api_client_signed_in(member)
    assert client.get(_base(workspace)).status_code == 404
    assert client.get(f"{_base(workspace)}{endpoint.pk}/attempts/").status_code == 404
    assert _create(client, workspace).status_code == 404
    assert client.delete(f"{_base(workspace)}{endpoint.pk}/").status_code == 404
    assert WebhookEndpoint.objects.count() == 1


def test_an_admin_manages_endpoints(workspace):
    admin = add_member(workspace, role=Role.ADMIN).user
    assert _create(api_client_signed_in(admin), workspace).status_code == 201


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/in",
        "https://user:pw@hooks.example.com/",
        "https://hooks.example.com/#frag",
        "ftp://hooks.example.com/",
    ],
)
def test_urls_outside_the_pattern_answer_400(workspace, user, url):
    answer = _create(api_client_signed_in(user), workspace, url=url)
    assert answer.status_code == 400
    assert "url" in answer.json()["error"]["fields"]
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "169.254.169.254", "2130706433"])
def test_a_url_whose_host_is_internal_answers_the_documented_400(workspace, user, host, settings):
    settings.WEBHOOK_ALLOWED_PRIVATE_NETWORKS = []
    answer = _create(api_client_signed_in(user), workspace, url=f"https://{host}/in")
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "webhook_url_refused"
    assert not WebhookEndpoint.objects.exists()


def test_patch_changes_fields_and_disables_and_enables(workspace, user, endpoint):
    client = api_client_signed_in(user)
    url = f"{_base(workspace)}{endpoint.pk}/"
    answer = client.patch(
        url, {"description": "new", "event_types": ["member.joined"]}, format="json"
    )
    assert answer.status_code == 200
    assert answer.json()["event_types"] == ["member.joined"]
    assert client.patch(url, {"enabled": False}, format="json").json()["enabled"] is False
    assert client.patch(url, {"enabled": True}, format="json").json()["enabled"] is True
    assert client.patch(url, {}, format="json").status_code == 400


def test_changing_the_url_needs_a_recent_sign_in(workspace, user, endpoint):
    client = api_client_signed_in(user, reauthenticated_seconds_ago=None)
    url = f"{_base(workspace)}{endpoint.pk}/"
    answer = client.patch(url, {"url": "https://elsewhere.example.com/"}, format="json")
    assert answer.status_code == 403
    assert client.patch(url, {"description": "ok"}, format="json").status_code == 200


def test_rotate_secret_returns_the_new_secret_with_the_overlap(workspace, user, endpoint):
    client = api_client_signed_in(user)
    url = f"{_base(workspace)}{endpoint.pk}/rotate-secret/"
    assert client.post(url, {}, format="json").status_code == 400
    answer = client.post(url, {"overlap_hours": 24}, format="json")
    assert answer.status_code == 200
    body = answer.json()
    assert body["secret"].startswith("whsec_") and body["previous_secret_expires_at"]
    endpoint.refresh_from_db()
    assert endpoint.secret == body["secret"]


def test_the_delivery_log_and_resend(workspace, user, endpoint, receiver):
    message = webhook_message_enqueue(endpoint=endpoint, event_type="api_key.created", data={})
    webhook_message_deliver(message_id=message.pk)
    client = api_client_signed_in(user)
    base = f"{_base(workspace)}{endpoint.pk}/"

    messages = client.get(f"{base}messages/").json()["results"]
    assert [(m["id"], m["status"]) for m in messages] == [(message.pk, "delivered")]
    attempts = client.get(f"{base}attempts/").json()["results"]
    assert attempts[0]["status_code"] == 204 and attempts[0]["message_id"] == message.pk

    answer = client.post(f"{base}messages/{message.pk}/resend/")
    assert answer.status_code == 202 and answer.json()["status"] == "pending"
    assert AuditEvent.objects.filter(action=Action.WEBHOOK_MESSAGE_RESENT).exists()
    assert client.post(f"{base}messages/msg_unknown/resend/").status_code == 404


def test_delete_removes_the_endpoint_and_audits_it(workspace, user, endpoint):
    client = api_client_signed_in(user)
    assert client.delete(f"{_base(workspace)}{endpoint.pk}/").status_code == 204
    assert not WebhookEndpoint.objects.exists()
    assert AuditEvent.objects.filter(action=Action.WEBHOOK_ENDPOINT_DELETED).exists()
