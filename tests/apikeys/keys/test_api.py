"""REST endpoints, management-key authentication, the verify and leak endpoints."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.permissions import Role
from apikeys.keys.models import ApiKey
from tests.factories import UserFactory, WorkspaceFactory, add_member
from tests.support import api_client_signed_in

pytestmark = pytest.mark.django_db(transaction=True)
GATEWAY = {"HTTP_AUTHORIZATION": "Bearer test-gateway-token"}
ACTORS = ("owner", "admin", "developer", "viewer", "stranger")


def _client(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def _bearer(full):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {full}")
    return client


def test_create_returns_the_key_once_with_no_store(workspace, user):
    url = reverse("api-key-list", kwargs={"workspace_id": workspace.pk})
    # A production key needs a recent password check, as on the dashboard.
    response = api_client_signed_in(user).post(
        url,
        {
            "name": "CI",
            "environment": "production",
            "scopes": ["inference"],
            "allowed_ips": ["2001:db8::/32"],
        },
        format="json",
    )
    assert response.status_code == 201
    assert "no-store" in response["Cache-Control"]
    assert response.data["key"].startswith("cnsl_prod_")
    listed = _client(user).get(url).json()
    assert response.data["key"] not in str(listed)
    assert "secret_hash" not in str(listed) and "pepper" not in str(listed)
    assert listed["results"][0]["display"].endswith(response.data["key"][-4:])


def test_bad_input_gets_the_one_error_format_and_changes_nothing(workspace, user):
    url = reverse("api-key-list", kwargs={"workspace_id": workspace.pk})
    for body in (
        {"name": "x", "environment": "production", "scopes": ["nope"]},
        {"name": "x", "environment": "dev", "scopes": ["inference"]},
        {
            "name": "x",
            "environment": "development",
            "scopes": ["inference"],
            "allowed_ips": ["1.2.3.4/99"],
        },
        {"name": "x" * 500, "environment": "development", "scopes": ["inference"]},
        ["not", "an", "object"],
    ):
        response = _client(user).post(url, body, format="json")
        assert response.status_code == 400, body
        assert response.json()["error"]["code"] == "invalid"
    assert not ApiKey.objects.exists()


def _actor(workspace, name):
    if name == "owner":
        return workspace.memberships.get(role=Role.OWNER).user
    if name == "stranger":
        return UserFactory()
    return add_member(workspace, name).user


@pytest.mark.parametrize("actor", ACTORS)
def test_isolation_matrix_of_key_endpoints(make_key, workspace, actor):
    """Each role gets what the permission map grants; strangers get 404 everywhere."""
    person = _actor(workspace, actor)
    api_key, _full = make_key()  # created by the owner
    kw = {"workspace_id": workspace.pk}
    kkw = {**kw, "key_id": api_key.public_id}
    client = _client(person)
    can_view = actor != "stranger"
    can_create = actor in ("owner", "admin", "developer")
    can_manage_others = actor in ("owner", "admin")

    assert client.get(reverse("api-key-list", kwargs=kw)).status_code == (200 if can_view else 404)
    assert client.get(reverse("api-key-detail", kwargs=kkw)).status_code == (
        200 if can_view else 404
    )
    created = client.post(
        reverse("api-key-list", kwargs=kw),
        {"name": "n", "environment": "development", "scopes": ["inference"]},
        format="json",
    )
    assert created.status_code == (201 if can_create else 403 if can_view else 404)
    manage = 200 if can_manage_others else 404
    assert (
        client.patch(
            reverse("api-key-detail", kwargs=kkw), {"name": "x"}, format="json"
        ).status_code
        == manage
    )
    assert (
        client.post(
            reverse("api-key-rotate", kwargs=kkw), {"grace": "none"}, format="json"
        ).status_code
        == manage
    )
    assert client.post(reverse("api-key-revoke", kwargs=kkw)).status_code == manage
    assert client.delete(reverse("api-key-detail", kwargs=kkw)).status_code == (
        204 if can_manage_others else 404
    )
    api_key.refresh_from_db()
    assert (api_key.deleted_at is not None) == can_manage_others


def test_management_key_works_in_its_workspace_within_its_scopes(make_key, workspace):
    _key, full = make_key(scopes=["keys.read"])
    client = _bearer(full)
    url = reverse("api-key-list", kwargs={"workspace_id": workspace.pk})
    assert client.get(url).status_code == 200
    refused = client.post(
        url, {"name": "n", "environment": "development", "scopes": ["inference"]}, format="json"
    )
    assert refused.status_code == 403
    assert ApiKey.objects.count() == 1


def test_management_key_of_workspace_a_gets_404_on_workspace_b(make_key, user):
    _key, full = make_key(scopes=["keys.read", "keys.write", "members.read", "audit.read"])
    other = WorkspaceFactory(owner=user, name="B")  # even one the creator owns
    client = _bearer(full)
    for name in ("api-key-list", "api-member-list"):
        response = client.get(reverse(name, kwargs={"workspace_id": other.pk}))
        assert response.status_code == 404, name


def test_model_only_and_revoked_keys_cannot_use_rest(make_key, workspace, user):
    from apikeys.keys.services import api_key_revoke

    url = reverse("api-key-list", kwargs={"workspace_id": workspace.pk})
    _k, model_only = make_key(scopes=["inference"])
    assert _bearer(model_only).get(url).status_code in (401, 403)
    mgmt, full = make_key(scopes=["keys.read"])
    api_key_revoke(api_key=mgmt, actor=user)
    assert _bearer(full).get(url).status_code in (401, 403)


def test_management_key_cannot_use_endpoints_without_key_scopes(make_key):
    _k, full = make_key(scopes=["keys.read", "keys.write", "members.read"])
    assert _bearer(full).get(reverse("api-me")).status_code == 403


def test_verify_endpoint_needs_a_gateway_token(make_key):
    _k, full = make_key()
    url = reverse("api-key-verify")
    client = APIClient()
    assert client.post(url, {"key": full}, format="json").status_code == 401
    bad = client.post(url, {"key": full}, format="json", HTTP_AUTHORIZATION="Bearer nope")
    assert bad.status_code == 401
    good = client.post(url, {"key": full, "required_scope": "inference"}, format="json", **GATEWAY)
    assert good.status_code == 200 and good.json()["valid"] is True
    assert "no-store" in good["Cache-Control"]


def test_verify_endpoint_answers_codes_and_refuses_bad_bodies(make_key):
    _k, full = make_key(requests_per_minute=1)
    url = reverse("api-key-verify")
    client = APIClient()
    assert client.post(url, {"key": "zzz"}, format="json", **GATEWAY).json() == {
        "valid": False,
        "code": "malformed",
    }
    assert client.post(url, {"key": full}, format="json", **GATEWAY).json()["valid"]
    limited = client.post(url, {"key": full}, format="json", **GATEWAY)
    assert limited.json()["code"] == "rate_limited" and "Retry-After" in limited
    for body in (
        "{",
        '"x"',
        '{"key": 5}',
        '{"key": "a", "max_tokens": -1}',
        '{"key":"a","required_scope":"x"}',
    ):
        response = client.post(url, body, content_type="application/json", **GATEWAY)
        assert response.status_code == 400, body
        assert response.json()["error"]["code"] == "invalid"
    assert client.get(url, **GATEWAY).status_code == 405


def test_verify_refuses_a_field_it_does_not_declare_and_takes_every_one_it_does(make_key, client):
    _k, full = make_key()
    url = reverse("api-key-verify")
    response = APIClient().post(url, {"key": full, "scope": "inference"}, format="json", **GATEWAY)
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"scope": ["Unknown field."]}
    schema = client.get(reverse("api-schema"), HTTP_ACCEPT="application/json").json()
    body = schema["paths"]["/api/v1/keys/verify"]["post"]["requestBody"]["content"]
    for name in body["application/json"]["schema"]["properties"]:
        value = {"key": full, "max_tokens": 1, "estimated_tokens": 1}.get(name)
        answer = APIClient().post(url, {"key": full, name: value}, format="json", **GATEWAY)
        assert answer.status_code == 200, (name, answer.content)


def test_leak_report_answers_the_same_whatever_the_key(make_key):
    api_key, full = make_key()
    url = reverse("api-key-report-leak")
    client = APIClient()
    answers = [
        client.post(url, {"key": key, "source": "scanner"}, format="json")
        for key in ("garbage", full[:-6] + "AAAAAA", full)
    ]
    assert {(a.status_code, a.content) for a in answers} == {(202, b'{"status":"received"}')}
    api_key.refresh_from_db()
    assert api_key.revoked_reason == "leaked"


def test_leak_report_is_rate_limited_per_ip():
    url = reverse("api-key-report-leak")
    client = APIClient()
    codes = [client.post(url, {"key": "x"}, format="json").status_code for _ in range(31)]
    assert codes[:30] == [202] * 30 and codes[30] == 429


def test_schema_declares_session_and_bearer_key_security(client):
    schema = client.get(reverse("api-schema"), HTTP_ACCEPT="application/json").json()
    schemes = schema["components"]["securitySchemes"]
    assert "cookieAuth" in schemes
    assert schemes["apiKey"]["scheme"] == "bearer"
    assert "/api/v1/workspaces/{workspace_id}/keys/{key_id}/rotate/" in schema["paths"]


def test_management_key_reads_members_and_audit_of_its_workspace(make_key, workspace):
    _k, full = make_key(scopes=["members.read", "audit.read"])
    client = _bearer(full)
    for name in ("api-member-list", "api-audit-event-list"):
        assert client.get(reverse(name, kwargs={"workspace_id": workspace.pk})).status_code == 200
    _k, members_only = make_key(scopes=["members.read"])
    url = reverse("api-audit-event-list", kwargs={"workspace_id": workspace.pk})
    assert _bearer(members_only).get(url).status_code == 403


@pytest.mark.parametrize(
    "name", ["leaky\nBcc: attacker@example.net", "CI\tkey", "CI \u202eyek", "CI \u2066key\u2069"]
)
def test_a_key_name_with_control_or_direction_characters_is_400_and_changes_nothing(
    make_key, workspace, user, name
):
    api_key, _full = make_key(name="Original")
    url = reverse("api-key-list", kwargs={"workspace_id": workspace.pk})
    body = {"name": name, "environment": "development", "scopes": ["inference"]}
    created = _client(user).post(url, body, format="json")
    assert created.status_code == 400
    error = created.json()["error"]
    assert error["code"] == "invalid"
    assert "text-direction marks" in error["fields"]["name"][0]
    detail = reverse(
        "api-key-detail", kwargs={"workspace_id": workspace.pk, "key_id": api_key.public_id}
    )
    renamed = _client(user).patch(detail, {"name": name}, format="json")
    assert renamed.status_code == 400
    assert "name" in renamed.json()["error"]["fields"]
    assert list(ApiKey.objects.values_list("name", flat=True)) == ["Original"]


@pytest.mark.single_redis
def test_patch_a_key_s_budget_alert_thresholds(make_key, workspace, user):
    api_key, _full = make_key(monthly_token_budget=1000)
    detail = reverse(
        "api-key-detail", kwargs={"workspace_id": workspace.pk, "key_id": api_key.public_id}
    )
    assert _client(user).get(detail).json()["budget_alert_thresholds"] == [50, 80, 100]
    changed = _client(user).patch(detail, {"budget_alert_thresholds": [95]}, format="json")
    assert changed.status_code == 200 and changed.json()["budget_alert_thresholds"] == [95]
    for bad in ([0], [95, 95], [1, 2, 3, 4, 5, 6], "95"):
        refused = _client(user).patch(detail, {"budget_alert_thresholds": bad}, format="json")
        assert refused.status_code == 400
    api_key.refresh_from_db()
    assert api_key.budget_alert_thresholds == [95]
