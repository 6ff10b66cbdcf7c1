import pytest
from django.db import transaction

from accounts.audit import Action
from accounts.errors import DomainError, Forbidden
from accounts.models import AuditEvent
from accounts.permissions import Role
from accounts.webhooks import events
from accounts.webhooks.models import WebhookEndpoint, WebhookMessage, WebhookMessageStatus
from accounts.webhooks.services import (
    webhook_endpoint_create,
    webhook_endpoint_rotate_secret,
    webhook_endpoint_update,
    webhook_event_record,
    webhook_message_enqueue,
)
from accounts.webhooks.signing import secret_key
from tests.factories import add_member

pytestmark = pytest.mark.django_db


def _endpoint(workspace, user, url="https://hooks.example.com/in", types=None):
    return webhook_endpoint_create(
        workspace=workspace,
        url=url,
        event_types=types or [events.API_KEY_CREATED],
        description="CI",
        actor=user,
    )


def test_create_returns_a_whsec_secret_once_and_stores_it_encrypted(workspace, user):
    endpoint, secret = _endpoint(workspace, user)
    assert secret.startswith("whsec_") and len(secret_key(secret)) == 32
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).secret == secret
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM webhooks_webhookendpoint WHERE id = %s", [endpoint.pk])
        stored = cursor.fetchone()[0]
    assert secret not in stored and "whsec_" not in stored
    event = AuditEvent.objects.get(action=Action.WEBHOOK_ENDPOINT_CREATED)
    assert event.target_id == str(endpoint.pk) and secret not in str(event.metadata)


def test_create_keeps_a_given_secret_and_refuses_one_that_is_not_whsec(workspace, user):
    given = "whsec_" + "A" * 43 + "="
    _, secret = webhook_endpoint_create(
        workspace=workspace,
        url="https://hooks.example.com/a",
        event_types=[events.API_KEY_CREATED],
        description="",
        actor=user,
        secret=given,
    )
    assert secret == given
    with pytest.raises(DomainError):
        webhook_endpoint_create(
            workspace=workspace,
            url="https://hooks.example.com/b",
            event_types=[events.API_KEY_CREATED],
            description="",
            actor=user,
            secret="not-a-secret",
        )


@pytest.mark.parametrize("role", [Role.DEVELOPER, Role.VIEWER])
def test_developers_and_viewers_cannot_register_endpoints(workspace, role):
    member = add_member(workspace, role=role).user
    with pytest.raises(Forbidden):
        _endpoint(workspace, member)
    assert not WebhookEndpoint.objects.exists()


def test_an_admin_can_register_endpoints(workspace):
    admin = add_member(workspace, role=Role.ADMIN).user
    endpoint, _ = _endpoint(workspace, admin)
    assert endpoint.workspace == workspace


def test_workspace_endpoints_subscribe_only_to_catalogue_types(workspace, user):
    with pytest.raises(DomainError) as refused:
        _endpoint(workspace, user, types=["api_key.created", "made.up"])
    assert "made.up" in refused.value.message


def test_system_endpoints_carry_their_own_event_types():
    endpoint, _ = webhook_endpoint_create(
        workspace=None,
        url="https://processor.example.com/requests",
        event_types=[events.PRIVACY_REQUEST_PROCESSOR_ACTION],
        description="Processor",
        actor=None,
    )
    assert endpoint.workspace is None
    assert endpoint.event_types == [events.PRIVACY_REQUEST_PROCESSOR_ACTION]


def test_event_record_fans_out_to_enabled_subscribed_endpoints_only(workspace, user):
    wanted, _ = _endpoint(workspace, user, types=[events.MEMBER_JOINED])
    other, _ = _endpoint(workspace, user, types=[events.API_KEY_CREATED])
    disabled, _ = _endpoint(workspace, user, types=[events.MEMBER_JOINED])
    webhook_endpoint_update(endpoint=disabled, actor=user, enabled=False)

    messages = webhook_event_record(
        workspace=workspace, event_type=events.MEMBER_JOINED, data={"user_id": 1}
    )

    assert [m.endpoint_id for m in messages] == [wanted.pk]
    message = messages[0]
    assert message.id.startswith("msg_")
    assert message.status == WebhookMessageStatus.PENDING
    assert set(message.payload) == {"type", "timestamp", "schema_version", "data"}
    assert message.payload["type"] == events.MEMBER_JOINED
    assert message.payload["schema_version"] == 1
    assert message.payload["data"] == {"user_id": 1}
    assert not WebhookMessage.objects.filter(endpoint__in=[other, disabled]).exists()


def test_event_record_without_endpoints_records_nothing(workspace):
    assert webhook_event_record(workspace=workspace, event_type="member.joined", data={}) == []


def test_messages_roll_back_with_the_change_they_describe(workspace, user):
    endpoint, _ = _endpoint(workspace, user)
    with pytest.raises(RuntimeError), transaction.atomic():
        webhook_message_enqueue(endpoint=endpoint, event_type="api_key.created", data={})
        raise RuntimeError("the change failed")
    assert not WebhookMessage.objects.exists()


def test_delivery_starts_on_commit(workspace, user, django_capture_on_commit_callbacks):
    endpoint, _ = _endpoint(workspace, user)
    with django_capture_on_commit_callbacks() as callbacks:
        webhook_message_enqueue(endpoint=endpoint, event_type="api_key.created", data={})
    assert len(callbacks) == 1


def test_rotation_keeps_the_old_secret_signing_during_the_overlap(workspace, user):
    endpoint, old = _endpoint(workspace, user)
    endpoint, new = webhook_endpoint_rotate_secret(endpoint=endpoint, actor=user)
    assert new != old
    assert endpoint.signing_secrets() == [new, old]
    assert AuditEvent.objects.filter(action=Action.WEBHOOK_SECRET_ROTATED).count() == 1


def test_enabling_an_endpoint_clears_its_failure_record(workspace, user):
    endpoint, _ = _endpoint(workspace, user)
    webhook_endpoint_update(endpoint=endpoint, actor=user, enabled=False)
    endpoint.refresh_from_db()
    assert endpoint.disabled_at is not None
    endpoint = webhook_endpoint_update(endpoint=endpoint, actor=user, enabled=True)
    assert endpoint.disabled_at is None and endpoint.failing_since is None
    assert AuditEvent.objects.filter(action=Action.WEBHOOK_ENDPOINT_UPDATED).count() == 2
