"""Every event of the catalogue is recorded with the change it describes."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.permissions import Role
from accounts.services import (
    invitation_accept_for_user,
    invitation_create,
    membership_change_role,
    membership_remove,
    workspace_delete,
)
from accounts.webhooks import events
from accounts.webhooks.models import WebhookMessage
from accounts.webhooks.services import webhook_endpoint_create
from apikeys.keys.models import ApiKey
from apikeys.keys.services import (
    api_key_create,
    api_key_expiry_notices_send,
    api_key_report_leaked,
    api_key_revoke,
    api_key_rotate,
)
from privacy.deletion.models import DeletionRequest
from privacy.deletion.services import deletion_cancel
from privacy.requests.services import privacy_request_submit
from tests.factories import UserFactory, add_member

pytestmark = pytest.mark.django_db


@pytest.fixture
def endpoint(workspace, user):
    endpoint, _ = webhook_endpoint_create(
        workspace=workspace,
        url="https://hooks.example.com/in",
        event_types=list(events.EVENT_TYPES),
        description="everything",
        actor=user,
    )
    return endpoint


def _recorded(event_type):
    return [
        m.payload["data"]
        for m in WebhookMessage.objects.filter(event_type=event_type).order_by("created_at")
    ]


def _key(workspace, user, **extra):
    return api_key_create(
        workspace=workspace,
        actor=user,
        name="ci",
        environment="development",
        scopes=["inference"],
        **extra,
    )


def test_key_created_revoked_and_rotated(workspace, user, endpoint):
    api_key, full_key = _key(workspace, user)
    api_key_rotate(api_key=api_key, actor=user, grace="1h")
    api_key_revoke(api_key=api_key, actor=user)

    [created] = _recorded(events.API_KEY_CREATED)
    assert created["key_id"] == api_key.public_id and created["name"] == "ci"
    assert _recorded(events.API_KEY_ROTATED)[0]["previous_secret_expires_at"]
    assert _recorded(events.API_KEY_REVOKED) == [
        {
            "key_id": api_key.public_id,
            "name": "ci",
            "environment": "development",
            "reason": "revoked",
        }
    ]
    assert not any(
        full_key in str(m.payload) or full_key[-12:] in str(m.payload)
        for m in WebhookMessage.objects.all()
    )


def test_key_reported_leaked(workspace, user, endpoint):
    api_key, full_key = _key(workspace, user)
    api_key_report_leaked(key=full_key, source="github")
    [leak] = _recorded(events.API_KEY_LEAK_REPORTED)
    assert leak["key_id"] == api_key.public_id and leak["source"] == "github"
    assert full_key not in str(leak)


def test_key_expiring_in_seven_days_and_in_one(workspace, user, endpoint):
    now = timezone.now()
    _key(workspace, user, expires_at=now + timedelta(days=6))
    api_key_expiry_notices_send(now=now)
    api_key_expiry_notices_send(now=now + timedelta(days=5, hours=12))
    assert [d["days_left"] for d in _recorded(events.API_KEY_EXPIRING)] == [7, 1]


def test_member_invited_joined_role_changed_and_removed(workspace, user, endpoint):
    invitee = UserFactory()
    invitation, _ = invitation_create(
        workspace=workspace, actor=user, email=invitee.email, role=Role.VIEWER
    )
    membership = invitation_accept_for_user(invitation_id=invitation.pk, user=invitee)
    membership_change_role(
        workspace=workspace, actor=user, membership=membership, role=Role.DEVELOPER
    )
    membership_remove(workspace=workspace, actor=user, membership=membership)

    assert _recorded(events.MEMBER_INVITED)[0]["invitation_id"] == invitation.pk
    assert _recorded(events.MEMBER_JOINED)[0]["user_id"] == invitee.pk
    assert _recorded(events.MEMBER_ROLE_CHANGED) == [
        {"user_id": invitee.pk, "previous_role": "viewer", "role": "developer"}
    ]
    assert _recorded(events.MEMBER_REMOVED) == [{"user_id": invitee.pk, "left": False}]
    assert all("token" not in str(m.payload) for m in WebhookMessage.objects.all())


def test_privacy_request_status_changes_reach_the_owners_workspaces(workspace, user, endpoint):
    other = add_member(workspace, role=Role.DEVELOPER).user
    privacy_request_submit(user=user, request_type="correction", jurisdiction="eea_uk", details="x")
    privacy_request_submit(
        user=other, request_type="correction", jurisdiction="eea_uk", details="y"
    )
    changes = _recorded(events.PRIVACY_REQUEST_STATUS_CHANGED)
    assert changes and {c["user_id"] for c in changes} == {user.pk}
    assert changes[0]["previous_status"] is None and changes[0]["status"] == "received"
    assert all("details" not in c for c in changes)


def test_workspace_deletion_scheduled_and_cancelled(workspace, user, endpoint):
    workspace_delete(workspace=workspace, actor=user)
    [scheduled] = _recorded(events.WORKSPACE_DELETION_SCHEDULED)
    assert scheduled["workspace_id"] == str(workspace.pk) and scheduled["scheduled_for"]
    deletion_cancel(deletion=DeletionRequest.objects.get(target_id=str(workspace.pk)), actor=user)
    assert _recorded(events.WORKSPACE_DELETION_CANCELLED) == [{"workspace_id": str(workspace.pk)}]


def test_endpoints_of_other_workspaces_hear_nothing(workspace, user, endpoint):
    from tests.factories import WorkspaceFactory

    other = WorkspaceFactory(owner=user, name="Other")
    _key(other, user)
    assert not WebhookMessage.objects.exists()
    assert ApiKey.objects.filter(workspace=other).exists()
