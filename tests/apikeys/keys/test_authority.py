"""A key never grants more than its holder has.

Every combination of management scopes, through create, update and rotate, with a
management key and with a signed-in session: whatever is refused answers 403 naming
the scopes and changes nothing.
"""

import itertools

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.permissions import Role
from apikeys.keys.models import ApiKey
from apikeys.keys.scopes import MANAGEMENT_SCOPES
from tests.factories import UserFactory, add_member
from tests.support import api_client_signed_in

pytestmark = pytest.mark.django_db(transaction=True)

MANAGEMENT = list(MANAGEMENT_SCOPES)
COMBINATIONS = [
    list(combination)
    for size in range(1, len(MANAGEMENT) + 1)
    for combination in itertools.combinations(MANAGEMENT, size)
]


def _bearer(full):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {full}")
    return client


def _state():
    return sorted(
        ApiKey.objects.values_list("public_id", "name", "scopes", "environment", "secret_hash")
    )


def _refused(response, *scopes):
    assert response.status_code == 403, response.content
    message = response.json()["error"]["message"]
    for scope in scopes:
        assert scope in message


@pytest.mark.parametrize("held", COMBINATIONS, ids=lambda held: "+".join(held))
def test_a_management_key_grants_only_the_scopes_it_holds(make_key, workspace, held):
    manager, full = make_key(name="manager", scopes=held)
    wider, _ = make_key(name="wider", scopes=[*MANAGEMENT, "inference"])
    narrower, _ = make_key(name="narrower", scopes=held)
    client = _bearer(full)
    list_url = reverse("api-key-list", kwargs={"workspace_id": workspace.pk})

    def key_url(name, api_key):
        return reverse(name, kwargs={"workspace_id": workspace.pk, "key_id": api_key.public_id})

    before = _state()
    missing = [scope for scope in [*MANAGEMENT, "inference"] if scope not in held]
    if "keys.write" not in held:
        for response in (
            client.post(list_url, {"name": "x", "environment": "development", "scopes": held}),
            client.patch(key_url("api-key-detail", manager), {"scopes": MANAGEMENT}),
            client.post(key_url("api-key-rotate", narrower), {"grace": "none"}),
        ):
            _refused(response, "keys.write")
        assert _state() == before
        return

    for scope in missing:
        create = client.post(
            list_url,
            {"name": "x", "environment": "development", "scopes": [*held, scope]},
            format="json",
        )
        _refused(create, scope)
        widen_self = client.patch(
            key_url("api-key-detail", manager), {"scopes": [*held, scope]}, format="json"
        )
        _refused(widen_self, scope)
    _refused(client.patch(key_url("api-key-detail", wider), {"name": "renamed"}, format="json"))
    _refused(client.post(key_url("api-key-rotate", wider), {"grace": "none"}, format="json"))
    production = client.post(
        list_url, {"name": "x", "environment": "production", "scopes": held}, format="json"
    )
    _refused(production)
    assert "production" in production.json()["error"]["message"]
    assert _state() == before

    created = client.post(
        list_url, {"name": "within", "environment": "development", "scopes": held}, format="json"
    )
    assert created.status_code == 201, created.content
    assert created.json()["scopes"] == held
    rotated = client.post(key_url("api-key-rotate", narrower), {"grace": "none"}, format="json")
    assert rotated.status_code == 200, rotated.content


@pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN, Role.DEVELOPER])
@pytest.mark.parametrize("scope", MANAGEMENT)
def test_a_member_grants_only_what_their_role_allows(workspace, role, scope):
    member = workspace.memberships.get().user if role == Role.OWNER else UserFactory()
    if role != Role.OWNER:
        add_member(workspace, role, user=member)
    client = api_client_signed_in(member)
    list_url = reverse("api-key-list", kwargs={"workspace_id": workspace.pk})
    allowed = not (role == Role.DEVELOPER and scope == "audit.read")

    before = _state()
    created = client.post(
        list_url, {"name": "mine", "environment": "development", "scopes": [scope]}, format="json"
    )
    if not allowed:
        _refused(created, scope)
        assert _state() == before
        own = client.post(
            list_url,
            {"name": "own", "environment": "development", "scopes": ["inference"]},
            format="json",
        )
        assert own.status_code == 201
        url = reverse(
            "api-key-detail", kwargs={"workspace_id": workspace.pk, "key_id": own.json()["id"]}
        )
        before = _state()
        _refused(client.patch(url, {"scopes": ["inference", scope]}, format="json"), scope)
        # A key that already carries it (given when the member had a wider role) cannot
        # be rotated into a fresh secret by them either.
        ApiKey.objects.filter(public_id=own.json()["id"]).update(scopes=["inference", scope])
        before = _state()
        _refused(client.post(f"{url}rotate/", {"grace": "none"}, format="json"), scope)
        assert _state() == before
        return
    assert created.status_code == 201, created.content
    url = reverse(
        "api-key-detail", kwargs={"workspace_id": workspace.pk, "key_id": created.json()["id"]}
    )
    updated = client.patch(url, {"scopes": [scope, "inference"]}, format="json")
    assert updated.status_code == 200, updated.content
    assert client.post(f"{url}rotate/", {"grace": "none"}, format="json").status_code == 200


def test_a_production_key_through_rest_needs_a_recent_sign_in(workspace, user):
    list_url = reverse("api-key-list", kwargs={"workspace_id": workspace.pk})
    body = {"name": "prod", "environment": "production", "scopes": ["inference"]}
    stale = api_client_signed_in(user, reauthenticated_seconds_ago=3600)
    refused = stale.post(list_url, body, format="json")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "reauthentication_required"
    assert "reauthenticate" in refused.json()["error"]["message"]
    assert not ApiKey.objects.exists()
    assert (
        stale.post(list_url, {**body, "environment": "development"}, format="json").status_code
        == 201
    )

    assert (
        api_client_signed_in(user, reauthenticated_seconds_ago=None)
        .post(list_url, body, format="json")
        .status_code
        == 403
    )
    fresh = api_client_signed_in(user)
    created = fresh.post(list_url, body, format="json")
    assert created.status_code == 201
    assert created.json()["key"].startswith("cnsl_prod_")
