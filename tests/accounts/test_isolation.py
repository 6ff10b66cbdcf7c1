"""The isolation matrix: every workspace route, for every role and for a stranger.

Routes are read from the URL resolver, so a new workspace route without an entry in
EXPECTED fails `test_every_workspace_route_is_in_the_matrix`. For each route and method
a stranger (no membership) gets 404 and nothing changes; each role gets exactly what
`accounts.permissions` grants: allowed, or the same 404.
"""

import pytest
from django.urls import URLPattern, reverse
from rest_framework.test import APIClient

from accounts import urls_workspaces
from accounts.api import urls as api_urls
from accounts.models import AuditEvent, Invitation, Membership, Workspace
from accounts.permissions import Perm, Role, role_has_permission
from accounts.services import invitation_create
from accounts.webhooks import urls as webhook_urls
from accounts.webhooks.models import WebhookEndpoint
from accounts.webhooks.services import webhook_endpoint_create, webhook_message_enqueue
from tests.factories import UserFactory, WorkspaceFactory, add_member

pytestmark = pytest.mark.django_db

ACTORS = ("owner", "admin", "developer", "viewer", "stranger")
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")

# route name -> {method: (permission required, request body)}
EXPECTED = {
    # HTML pages
    "workspace_detail": {"GET": (Perm.WORKSPACE_VIEW, None)},
    "workspace_leave": {"POST": (Perm.WORKSPACE_VIEW, {})},
    "workspace_settings": {
        "GET": (Perm.WORKSPACE_UPDATE, None),
        "POST": (Perm.WORKSPACE_UPDATE, {"form": "rename", "name": "Changed"}),
    },
    "workspace_transfer": {
        "POST": (Perm.WORKSPACE_TRANSFER, {"new_owner": "{target}", "keep_role": "admin"})
    },
    "workspace_delete": {"POST": (Perm.WORKSPACE_DELETE, {"confirm_name": "Acme"})},
    "workspace_members": {"GET": (Perm.MEMBERS_VIEW, None)},
    "workspace_invite": {
        "POST": (Perm.INVITATIONS_MANAGE, {"email": "new@example.com", "role": "viewer"})
    },
    "member_role_change": {"POST": (Perm.MEMBERS_MANAGE, {"role": "developer"})},
    "member_remove": {"POST": (Perm.MEMBERS_MANAGE, {})},
    "invitation_resend": {"POST": (Perm.INVITATIONS_MANAGE, {})},
    "invitation_revoke": {"POST": (Perm.INVITATIONS_MANAGE, {})},
    "workspace_audit": {"GET": (Perm.AUDIT_VIEW, None)},
    "workspace_audit_csv": {"GET": (Perm.AUDIT_VIEW, None)},
    # REST
    "api-workspace-detail": {
        "GET": (Perm.WORKSPACE_VIEW, None),
        "PATCH": (Perm.WORKSPACE_UPDATE, {"name": "Changed", "zero_data_retention": True}),
        "DELETE": (Perm.WORKSPACE_DELETE, None),
    },
    "api-workspace-transfer-ownership": {
        "POST": (Perm.WORKSPACE_TRANSFER, {"user_id": "{target}", "keep_role": "admin"})
    },
    "api-member-list": {"GET": (Perm.MEMBERS_VIEW, None)},
    "api-member-detail": {
        "PATCH": (Perm.MEMBERS_MANAGE, {"role": "developer"}),
        "DELETE": (Perm.MEMBERS_MANAGE, None),
    },
    "api-invitation-list": {
        "GET": (Perm.INVITATIONS_MANAGE, None),
        "POST": (Perm.INVITATIONS_MANAGE, {"email": "new@example.com", "role": "viewer"}),
    },
    "api-invitation-resend": {"POST": (Perm.INVITATIONS_MANAGE, None)},
    "api-invitation-revoke": {"POST": (Perm.INVITATIONS_MANAGE, None)},
    "api-audit-event-list": {"GET": (Perm.AUDIT_VIEW, None)},
    # Webhooks: owners and admins only, pages and REST alike.
    "webhook_list": {"GET": (Perm.WEBHOOKS_MANAGE, None)},
    "webhook_create": {
        "GET": (Perm.WEBHOOKS_MANAGE, None),
        "POST": (
            Perm.WEBHOOKS_MANAGE,
            {"url": "https://hooks.example.com/new", "event_types": "api_key.created"},
        ),
    },
    "webhook_detail": {
        "GET": (Perm.WEBHOOKS_MANAGE, None),
        "POST": (
            Perm.WEBHOOKS_MANAGE,
            {
                "url": "https://hooks.example.com/in",
                "description": "Changed",
                "event_types": "api_key.created",
            },
        ),
    },
    "webhook_rotate": {"POST": (Perm.WEBHOOKS_MANAGE, {})},
    "webhook_delete": {"POST": (Perm.WEBHOOKS_MANAGE, {})},
    "webhook_resend": {"POST": (Perm.WEBHOOKS_MANAGE, {})},
    "api-webhook-list": {
        "GET": (Perm.WEBHOOKS_MANAGE, None),
        "POST": (
            Perm.WEBHOOKS_MANAGE,
            {"url": "https://hooks.example.com/new", "event_types": ["api_key.created"]},
        ),
    },
    "api-webhook-detail": {
        "GET": (Perm.WEBHOOKS_MANAGE, None),
        "PATCH": (Perm.WEBHOOKS_MANAGE, {"description": "Changed"}),
        "DELETE": (Perm.WEBHOOKS_MANAGE, None),
    },
    "api-webhook-rotate-secret": {"POST": (Perm.WEBHOOKS_MANAGE, {"overlap_hours": 1})},
    "api-webhook-messages": {"GET": (Perm.WEBHOOKS_MANAGE, None)},
    "api-webhook-message-resend": {"POST": (Perm.WEBHOOKS_MANAGE, None)},
    "api-webhook-attempts": {"GET": (Perm.WEBHOOKS_MANAGE, None)},
}

# Routes that take no workspace id; each has its own tests of who may do what.
NOT_WORKSPACE_SCOPED = {
    "workspace_list",
    "workspace_create",
    "invitation_accept",
    "invitation_accept_by_id",
    "api-me",
    "api-workspace-list",
}


def _routes():
    for patterns in (
        urls_workspaces.urlpatterns,
        api_urls.urlpatterns,
        webhook_urls.api_urlpatterns,
    ):
        for pattern in patterns:
            assert isinstance(pattern, URLPattern), "nested includes are not walked"
            yield pattern


ROUTES = {pattern.name: pattern for pattern in _routes()}


def test_every_workspace_route_is_in_the_matrix():
    for name, pattern in ROUTES.items():
        scoped = "workspace_id" in pattern.pattern.converters
        if scoped:
            assert name in EXPECTED, f"{name} is workspace-scoped but not in the matrix"
        else:
            assert name in NOT_WORKSPACE_SCOPED, f"{name} is not classified"
    assert set(EXPECTED) | NOT_WORKSPACE_SCOPED == set(ROUTES)


@pytest.fixture
def world():
    owner = UserFactory()
    workspace = WorkspaceFactory(owner=owner, name="Acme")
    actors = {"owner": owner, "stranger": UserFactory()}
    for role in (Role.ADMIN, Role.DEVELOPER, Role.VIEWER):
        actors[role] = add_member(workspace, role).user
    target = add_member(workspace, Role.VIEWER)
    invitation, _ = invitation_create(
        workspace=workspace, actor=owner, email="pending@example.com", role=Role.VIEWER
    )
    # The stranger has a workspace of their own: being someone does not help.
    WorkspaceFactory(owner=actors["stranger"], name="Elsewhere")
    endpoint, _ = webhook_endpoint_create(
        workspace=workspace,
        url="https://hooks.example.com/in",
        event_types=["api_key.created"],
        description="",
        actor=owner,
    )
    message = webhook_message_enqueue(endpoint=endpoint, event_type="api_key.created", data={})
    return {
        "workspace": workspace,
        "actors": actors,
        "target": target,
        "invitation": invitation,
        "endpoint": endpoint,
        "message": message,
    }


def _url(name, world):
    converters = ROUTES[name].pattern.converters
    values = {
        "workspace_id": world["workspace"].pk,
        "user_id": world["target"].user_id,
        "invitation_id": world["invitation"].pk,
        "endpoint_id": world["endpoint"].pk,
        "message_id": world["message"].pk,
    }
    return reverse(name, kwargs={key: values[key] for key in converters})


def _snapshot(workspace):
    return (
        list(Workspace.objects.filter(pk=workspace.pk).values()),
        list(Membership.objects.filter(workspace=workspace).order_by("pk").values("user", "role")),
        list(Invitation.objects.filter(workspace=workspace).order_by("pk").values()),
        AuditEvent.objects.filter(workspace_id=workspace.pk).count(),
        list(WebhookEndpoint.objects.filter(workspace=workspace).order_by("pk").values()),
    )


def _request(client, method, url, body, *, api, target):
    if isinstance(body, dict):
        body = {k: (target.user_id if v == "{target}" else v) for k, v in body.items()}
    if api:
        return client.generic(
            method, url, data=None if body is None else _json(body), content_type="application/json"
        )
    if method == "GET":
        return client.get(url)
    return client.generic(
        method, url, data=_form(body or {}), content_type="application/x-www-form-urlencoded"
    )


def _json(body):
    import json

    return json.dumps(body)


def _form(body):
    from urllib.parse import urlencode

    return urlencode(body)


CASES = [
    (name, method, actor)
    for name, methods in EXPECTED.items()
    for method in methods
    for actor in ACTORS
]


@pytest.mark.parametrize(("name", "method", "actor"), CASES)
def test_matrix(world, name, method, actor):
    permission, body = EXPECTED[name][method]
    role = None if actor == "stranger" else actor
    allowed = role_has_permission(role, permission)
    client = APIClient()
    client.force_login(world["actors"][actor])
    before = _snapshot(world["workspace"])

    response = _request(
        client,
        method,
        _url(name, world),
        body,
        api=name.startswith("api-"),
        target=world["target"],
    )

    if allowed:
        assert response.status_code not in (404, 405), response.content[:300]
        assert response.status_code < 500
    else:
        assert response.status_code == 404, (response.status_code, response.content[:300])
        assert _snapshot(world["workspace"]) == before
        assert "current_workspace_id" not in client.session


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_methods_outside_the_matrix_are_refused_for_everyone(world, name):
    client = APIClient()
    client.force_login(world["actors"]["owner"])
    before = _snapshot(world["workspace"])
    for method in METHODS:
        if method in EXPECTED[name]:
            continue
        response = _request(
            client, method, _url(name, world), {}, api=name.startswith("api-"), target=None
        )
        assert response.status_code == 405, (name, method, response.status_code)
    assert _snapshot(world["workspace"]) == before


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_signed_out_requests_reach_nothing(world, name):
    client = APIClient()
    before = _snapshot(world["workspace"])
    for method, (_permission, body) in EXPECTED[name].items():
        response = _request(
            client,
            method,
            _url(name, world),
            body,
            api=name.startswith("api-"),
            target=world["target"],
        )
        assert response.status_code in (302, 403), (name, method, response.status_code)
    assert _snapshot(world["workspace"]) == before


def test_ids_from_another_workspace_are_404_even_for_its_owner(world):
    """A member id or invitation id of workspace B used under workspace A is not found."""
    owner = world["actors"]["owner"]
    other = WorkspaceFactory(owner=UserFactory(), name="B")
    foreign_member = add_member(other, Role.VIEWER)
    foreign_invitation, _ = invitation_create(
        workspace=other,
        actor=other.memberships.get(role=Role.OWNER).user,
        email="x@example.com",
        role=Role.VIEWER,
    )
    client = APIClient()
    client.force_login(owner)
    ws = world["workspace"].pk
    before = _snapshot(other)
    for url, method in (
        (f"/api/v1/workspaces/{ws}/members/{foreign_member.user_id}/", "DELETE"),
        (f"/api/v1/workspaces/{ws}/invitations/{foreign_invitation.pk}/revoke/", "POST"),
        (f"/w/{ws}/members/{foreign_member.user_id}/remove/", "POST"),
        (f"/w/{ws}/invitations/{foreign_invitation.pk}/revoke/", "POST"),
    ):
        assert client.generic(method, url).status_code == 404, url
    assert _snapshot(other) == before
