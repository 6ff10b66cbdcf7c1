"""Key pages: one-time display, re-authentication for production, isolation, query count."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.permissions import Role
from apikeys.keys import tokens as keys
from apikeys.keys.models import ApiKey
from tests.factories import DEFAULT_PASSWORD, UserFactory, add_member

pytestmark = pytest.mark.django_db(transaction=True)
ACTORS = ("owner", "admin", "developer", "viewer", "stranger")


def _signed_in(client, user):
    client.force_login(user)
    return client


def _create(client, workspace, environment="development"):
    return client.post(
        reverse("apikey_create", kwargs={"workspace_id": workspace.pk}),
        {"name": "Web", "environment": environment, "scopes": ["inference"]},
    )


def test_created_key_is_shown_once_with_no_store(client, workspace, user):
    response = _create(_signed_in(client, user), workspace)
    assert response.status_code == 201
    assert "no-store" in response["Cache-Control"]
    api_key = ApiKey.objects.get()
    shown = response.content.decode()
    assert 'data-copy-target="new-api-key"' in shown
    detail = client.get(
        reverse("apikey_detail", kwargs={"workspace_id": workspace.pk, "key_id": api_key.public_id})
    ).content.decode()
    assert api_key.display in detail
    start = shown.index('id="new-api-key">') + len('id="new-api-key">')
    full = shown[start : shown.index("</div>", start)]
    keys.parse(full)
    assert full not in detail


def test_production_key_asks_for_reauthentication(client, workspace, user):
    _signed_in(client, user)
    response = _create(client, workspace, "production")
    assert response.status_code == 302
    assert reverse("account_reauthenticate") in response["Location"]
    assert not ApiKey.objects.exists()
    resumed = client.post(response["Location"], {"password": DEFAULT_PASSWORD}, follow=True)
    assert resumed.status_code in (200, 201)
    assert ApiKey.objects.filter(environment="production").count() == 1


def test_development_key_needs_no_reauthentication(client, workspace, user):
    assert _create(_signed_in(client, user), workspace).status_code == 201


def _actor(workspace, name):
    if name == "owner":
        return workspace.memberships.get(role=Role.OWNER).user
    if name == "stranger":
        return UserFactory()
    return add_member(workspace, name).user


@pytest.mark.parametrize("actor", ACTORS)
def test_isolation_matrix_of_key_pages(client, make_key, workspace, actor):
    api_key, _ = make_key()
    _signed_in(client, _actor(workspace, actor))
    kw = {"workspace_id": workspace.pk}
    kkw = {**kw, "key_id": api_key.public_id}
    view = 200 if actor != "stranger" else 404
    create = 200 if actor in ("owner", "admin", "developer") else 404
    manage = 200 if actor in ("owner", "admin") else 404
    assert client.get(reverse("apikey_list", kwargs=kw)).status_code == view
    assert client.get(reverse("apikey_detail", kwargs=kkw)).status_code == view
    assert client.get(reverse("apikey_create", kwargs=kw)).status_code == create
    for name in ("apikey_edit", "apikey_rotate", "apikey_revoke", "apikey_delete"):
        assert client.get(reverse(name, kwargs=kkw)).status_code == manage, name
    revoked = client.post(reverse("apikey_revoke", kwargs=kkw))
    assert revoked.status_code == (302 if manage == 200 else 404)
    api_key.refresh_from_db()
    assert (api_key.revoked_at is not None) == (manage == 200)


def test_developer_manages_own_key_pages(client, make_key, workspace):
    developer = add_member(workspace, Role.DEVELOPER).user
    own, _ = make_key(actor=developer)
    _signed_in(client, developer)
    kkw = {"workspace_id": workspace.pk, "key_id": own.public_id}
    response = client.post(reverse("apikey_rotate", kwargs=kkw), {"grace": "1h"})
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]


def test_list_filters_by_environment_and_status(client, make_key, workspace, user):
    from apikeys.keys.services import api_key_revoke

    make_key(name="dev-key")
    prod, _ = make_key(name="prod-key", environment="production")
    api_key_revoke(api_key=prod, actor=user)
    _signed_in(client, user)
    url = reverse("apikey_list", kwargs={"workspace_id": workspace.pk})
    body = client.get(url, {"environment": "production"}).content.decode()
    assert "prod-key" in body and "dev-key" not in body
    body = client.get(url, {"status": "active", "sort": "-last_used"}).content.decode()
    assert "dev-key" in body and "prod-key" not in body


def _bulk_keys(workspace, user, count):
    digest = "0" * 64
    ApiKey.objects.bulk_create(
        ApiKey(
            workspace=workspace,
            public_id=keys.new_public_id(),
            name=f"k{i}",
            environment="development",
            scopes=["inference"],
            created_by=user,
            secret_hash=digest,
            pepper_id="tp1",
            last_four="abcd",
        )
        for i in range(count)
    )


def test_list_query_count_does_not_grow_with_the_number_of_keys(client, workspace, user):
    _signed_in(client, user)
    url = reverse("apikey_list", kwargs={"workspace_id": workspace.pk})
    _bulk_keys(workspace, user, 10)
    client.get(url)  # the first request of a session also records the session itself
    with CaptureQueriesContext(connection) as ten:
        assert client.get(url, {"sort": "-last_used"}).status_code == 200
    _bulk_keys(workspace, user, 990)
    with CaptureQueriesContext(connection) as thousand:
        assert client.get(url, {"sort": "-last_used"}).status_code == 200
    assert len(thousand) == len(ten)
    # One page is read, and the keys are not counted.
    assert not [q["sql"] for q in thousand.captured_queries if "COUNT(" in q["sql"].upper()]


@pytest.mark.parametrize("name", ["leaky\nBcc: attacker@example.net", "Web\tkey", "Web \u202eyek"])
def test_creating_a_key_with_an_unsafe_name_is_a_form_error(client, workspace, user, name):
    response = _signed_in(client, user).post(
        reverse("apikey_create", kwargs={"workspace_id": workspace.pk}),
        {"name": name, "environment": "development", "scopes": ["inference"]},
    )
    assert response.status_code == 400
    assert "text-direction marks" in response.context["form"].errors["name"][0]
    assert not ApiKey.objects.exists()
