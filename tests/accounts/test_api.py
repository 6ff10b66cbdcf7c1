import uuid

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from accounts.audit import Action, audit_record
from accounts.models import AuditEvent, Invitation, Membership, Workspace
from accounts.permissions import Role
from accounts.services import invitation_create
from tests.factories import UserFactory, WorkspaceFactory, add_member

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(user):
    client = APIClient()
    client.force_login(user)
    return client


def ws_url(workspace, suffix=""):
    return f"/api/v1/workspaces/{workspace.pk}/{suffix}"


def assert_error(response, status, code=None):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["message"]
    if code:
        assert body["error"]["code"] == code
    return body["error"]


# ---------------------------------------------------------------------------- me


def test_me_returns_the_profile(api, user):
    body = api.get("/api/v1/me/").json()
    assert body == {
        "id": user.pk,
        "email": user.email,
        "name": user.name,
        "marketing_emails": False,
    }


def test_me_patch_changes_the_name(api, user):
    response = api.patch("/api/v1/me/", {"name": "  Ada Lovelace "}, format="json")
    assert response.status_code == 200
    assert response.json()["name"] == "Ada Lovelace"
    user.refresh_from_db()
    assert user.name == "Ada Lovelace"


def test_me_patch_with_too_long_name_is_400_and_changes_nothing(api, user):
    before = user.name
    error = assert_error(api.patch("/api/v1/me/", {"name": "x" * 151}, format="json"), 400)
    assert "name" in error["fields"]
    user.refresh_from_db()
    assert user.name == before


def test_me_patch_refuses_unknown_fields(api, user):
    error = assert_error(
        api.patch("/api/v1/me/", {"name": "A", "is_staff": True}, format="json"), 400
    )
    assert "is_staff" in error["fields"]
    user.refresh_from_db()
    assert not user.is_staff and user.name != "A"


def test_signed_out_requests_are_refused_in_the_error_format():
    response = APIClient().get("/api/v1/workspaces/")
    assert_error(response, 403, "not_authenticated")


def test_malformed_json_is_400_in_the_error_format(api):
    response = api.generic("POST", "/api/v1/workspaces/", "{nope", content_type="application/json")
    assert_error(response, 400)


# ---------------------------------------------------------------------------- workspaces


def test_list_workspaces_with_role_and_pagination(api, user):
    own = WorkspaceFactory(owner=user, name="Mine")
    theirs = WorkspaceFactory(name="Theirs")
    add_member(theirs, Role.VIEWER, user=user)
    WorkspaceFactory(name="Foreign")
    body = api.get("/api/v1/workspaces/").json()
    assert body["count"] == 2
    assert {(w["name"], w["role"]) for w in body["results"]} == {
        ("Mine", "owner"),
        ("Theirs", "viewer"),
    }
    assert str(own.pk) in {w["id"] for w in body["results"]}
    page = api.get("/api/v1/workspaces/", {"page_size": 1}).json()
    assert len(page["results"]) == 1 and page["next"]


def test_create_workspace(api, user):
    response = api.post("/api/v1/workspaces/", {"name": "New"}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["role"] == "owner" and body["usage_retention_days"] == 30
    assert Membership.objects.get(workspace_id=body["id"], user=user).role == Role.OWNER


@pytest.mark.parametrize("payload", [{}, {"name": ""}, {"name": "x" * 101}, {"name": None}, []])
def test_create_workspace_with_bad_input_is_400_and_creates_nothing(api, payload):
    before = Workspace.objects.count()
    assert_error(api.post("/api/v1/workspaces/", payload, format="json"), 400, "invalid")
    assert Workspace.objects.count() == before


def test_get_workspace(api, workspace):
    body = api.get(ws_url(workspace)).json()
    assert body["id"] == str(workspace.pk) and body["role"] == "owner"


def test_missing_and_foreign_workspaces_answer_the_same_404(api):
    foreign = WorkspaceFactory()
    missing = assert_error(api.get(f"/api/v1/workspaces/{uuid.uuid4()}/"), 404, "not_found")
    forbidden = assert_error(api.get(ws_url(foreign)), 404, "not_found")
    assert missing == forbidden


def test_patch_workspace_name_and_settings(api, workspace):
    response = api.patch(
        ws_url(workspace),
        {
            "name": "Renamed",
            "usage_retention_days": 45,
            "zero_data_retention": True,
            "max_key_lifetime_days": 30,
        },
        format="json",
    )
    assert response.status_code == 200
    workspace.refresh_from_db()
    assert workspace.name == "Renamed" and workspace.usage_retention_days == 45
    assert workspace.zero_data_retention and workspace.max_key_lifetime_days == 30
    assert response.json()["usage_retention_days"] == 45
    assert AuditEvent.objects.filter(
        workspace_id=workspace.pk, action=Action.WORKSPACE_SETTINGS_UPDATED
    ).exists()


@pytest.mark.parametrize(
    "payload",
    [
        {"name": "Renamed", "usage_retention_days": 91},
        {"name": "Renamed", "usage_retention_days": 29},
        {"name": "Renamed", "max_key_lifetime_days": 0},
        {"name": "Renamed", "zero_data_retention": "maybe"},
        {"name": "Renamed", "colour": "blue"},
        {"name": "   "},
    ],
)
def test_patch_workspace_with_bad_input_is_400_and_changes_nothing(api, workspace, payload):
    assert_error(api.patch(ws_url(workspace), payload, format="json"), 400)
    workspace.refresh_from_db()
    assert workspace.name == "Acme" and workspace.usage_retention_days == 30


def test_patch_workspace_budget_and_alert_thresholds(api, workspace):
    response = api.patch(
        ws_url(workspace),
        {"monthly_token_budget": 5_000_000, "budget_alert_thresholds": [90, 25]},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["monthly_token_budget"] == 5_000_000
    assert response.json()["budget_alert_thresholds"] == [25, 90]
    workspace.refresh_from_db()
    assert workspace.monthly_token_budget == 5_000_000
    assert workspace.budget_alert_thresholds == [25, 90]
    event = AuditEvent.objects.filter(
        workspace_id=workspace.pk, action=Action.WORKSPACE_SETTINGS_UPDATED
    ).latest("pk")
    assert event.metadata["changes"]["monthly_token_budget"] == {"from": None, "to": 5_000_000}
    response = api.patch(ws_url(workspace), {"monthly_token_budget": None}, format="json")
    assert response.status_code == 200 and response.json()["monthly_token_budget"] is None


@pytest.mark.parametrize(
    "payload",
    [
        {"monthly_token_budget": 0},
        {"monthly_token_budget": 10**15 + 1},
        {"budget_alert_thresholds": [0]},
        {"budget_alert_thresholds": [101]},
        {"budget_alert_thresholds": [50, 50]},
        {"budget_alert_thresholds": [10, 20, 30, 40, 50, 60]},
        {"budget_alert_thresholds": "50,80"},
        {"budget_alert_thresholds": None},
    ],
)
def test_patch_workspace_with_a_bad_budget_is_400_and_changes_nothing(api, workspace, payload):
    assert_error(api.patch(ws_url(workspace), payload, format="json"), 400)
    workspace.refresh_from_db()
    assert workspace.monthly_token_budget is None
    assert workspace.budget_alert_thresholds == [50, 80, 100]


def test_delete_workspace_is_owner_only(api, workspace, user):
    admin = add_member(workspace, Role.ADMIN)
    admin_api = APIClient()
    admin_api.force_login(admin.user)
    assert_error(admin_api.delete(ws_url(workspace)), 404)
    workspace.refresh_from_db()
    assert workspace.deleted_at is None
    assert api.delete(ws_url(workspace)).status_code == 204
    workspace.refresh_from_db()
    assert workspace.deleted_at is not None
    assert_error(api.get(ws_url(workspace)), 404)


# ---------------------------------------------------------------------------- ownership


def transfer_url(workspace):
    return ws_url(workspace, "transfer-ownership/")


def ownership_state(workspace):
    """Every member's role and the workspace's audit count: what a refusal must keep."""
    roles = dict(Membership.objects.filter(workspace=workspace).values_list("user_id", "role"))
    return roles, AuditEvent.objects.filter(workspace_id=workspace.pk).count()


def test_owner_transfers_ownership_to_a_member(api, workspace, user):
    member = add_member(workspace, Role.DEVELOPER)
    response = api.post(transfer_url(workspace), {"user_id": member.user_id}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["id"] == str(workspace.pk) and body["name"] == "Acme"
    assert body["role"] == "admin"
    member.refresh_from_db()
    assert member.role == Role.OWNER
    assert Membership.objects.get(workspace=workspace, user=user).role == Role.ADMIN
    event = AuditEvent.objects.get(workspace_id=workspace.pk, action=Action.WORKSPACE_TRANSFERRED)
    assert event.actor_id == user.pk
    assert event.metadata == {"new_owner_id": member.user_id, "previous_owner_role": "admin"}
    # The former owner is an admin now: a second transfer is no longer theirs to make.
    again = api.post(transfer_url(workspace), {"user_id": member.user_id}, format="json")
    assert_error(again, 404, "not_found")


def test_owner_chooses_the_role_to_keep(api, workspace, user):
    member = add_member(workspace, Role.ADMIN)
    response = api.post(
        transfer_url(workspace), {"user_id": member.user_id, "keep_role": "viewer"}, format="json"
    )
    assert response.status_code == 200 and response.json()["role"] == "viewer"
    assert Membership.objects.get(workspace=workspace, user=user).role == Role.VIEWER
    member.refresh_from_db()
    assert member.role == Role.OWNER


@pytest.mark.parametrize("role", [Role.ADMIN, Role.DEVELOPER, Role.VIEWER])
def test_non_owners_get_the_same_404_as_a_stranger(workspace, role):
    actor = add_member(workspace, role).user
    member = add_member(workspace, Role.VIEWER)
    stranger = UserFactory()
    WorkspaceFactory(owner=stranger, name="Elsewhere")
    before = ownership_state(workspace)
    answers = []
    for person in (actor, stranger):
        client = APIClient()
        client.force_login(person)
        for target in (member.user_id, person.pk):
            response = client.post(transfer_url(workspace), {"user_id": target}, format="json")
            answers.append(assert_error(response, 404, "not_found"))
    assert all(answer == answers[0] for answer in answers)
    assert ownership_state(workspace) == before


def test_missing_workspace_answers_the_same_404(api, workspace):
    member = add_member(workspace, Role.VIEWER)
    missing = api.post(
        f"/api/v1/workspaces/{uuid.uuid4()}/transfer-ownership/",
        {"user_id": member.user_id},
        format="json",
    )
    foreign = api.post(transfer_url(WorkspaceFactory()), {"user_id": 1}, format="json")
    assert assert_error(missing, 404) == assert_error(foreign, 404)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "user_id"),
        ({"user_id": None}, "user_id"),
        ({"user_id": ""}, "user_id"),
        ({"user_id": "abc"}, "user_id"),
        ({"user_id": 1.5}, "user_id"),
        ({"user_id": True}, "user_id"),
        ({"user_id": [1]}, "user_id"),
        ({"user_id": {"id": 1}}, "user_id"),
        ({"user_id": 0}, "user_id"),
        ({"user_id": -1}, "user_id"),
        ({"user_id": 2**63}, "user_id"),
        ({"user_id": "9" * 40}, "user_id"),
        ({"user_id": "{member}", "keep_role": "owner"}, "keep_role"),
        ({"user_id": "{member}", "keep_role": "root"}, "keep_role"),
        ({"user_id": "{member}", "keep_role": None}, "keep_role"),
        ({"user_id": "{member}", "role": "owner"}, "role"),
        ([], "non_field_errors"),
    ],
)
def test_transfer_with_invalid_body_is_400_and_changes_nothing(api, workspace, payload, field):
    member = add_member(workspace, Role.DEVELOPER)
    if isinstance(payload, dict):
        payload = {k: member.user_id if v == "{member}" else v for k, v in payload.items()}
    before = ownership_state(workspace)
    error = assert_error(api.post(transfer_url(workspace), payload, format="json"), 400, "invalid")
    assert field in error["fields"]
    assert ownership_state(workspace) == before


def test_transfer_body_that_is_not_json_is_refused_and_changes_nothing(api, workspace):
    member = add_member(workspace, Role.DEVELOPER)
    before = ownership_state(workspace)
    malformed = api.generic(
        "POST", transfer_url(workspace), '{"user_id": ', content_type="application/json"
    )
    assert_error(malformed, 400)
    form = api.post(transfer_url(workspace), {"user_id": member.user_id})
    assert_error(form, 415)
    assert ownership_state(workspace) == before


@pytest.mark.parametrize("who", ["unknown", "outsider", "member_elsewhere"])
def test_transfer_to_someone_who_is_not_a_member_is_409_and_changes_nothing(api, workspace, who):
    add_member(workspace, Role.DEVELOPER)
    if who == "unknown":
        user_id = 2**62
    elif who == "outsider":
        user_id = UserFactory().pk
    else:
        user_id = add_member(WorkspaceFactory(), Role.ADMIN).user_id
    before = ownership_state(workspace)
    response = api.post(transfer_url(workspace), {"user_id": user_id}, format="json")
    error = assert_error(response, 409, "conflict")
    assert error["message"] == "The new owner must already be a member of this workspace."
    assert error["fields"] == {"user_id": ["Not a member of this workspace."]}
    assert ownership_state(workspace) == before


def test_transfer_to_yourself_is_409_and_changes_nothing(api, workspace, user):
    add_member(workspace, Role.DEVELOPER)
    before = ownership_state(workspace)
    response = api.post(transfer_url(workspace), {"user_id": user.pk}, format="json")
    assert assert_error(response, 409, "conflict")["message"] == "You already own this workspace."
    assert ownership_state(workspace) == before


def test_transfer_is_documented_in_the_schema(api):
    schema = api.get("/api/schema/", {"format": "json"}).json()
    operation = schema["paths"]["/api/v1/workspaces/{workspace_id}/transfer-ownership/"]["post"]
    assert operation["operationId"] == "workspaces_transfer_ownership"
    assert operation["description"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    request = schema["components"]["schemas"][body.rsplit("/", 1)[-1]]
    assert request["required"] == ["user_id"]
    assert set(request["properties"]) == {"user_id", "keep_role"}
    ok = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert ok == "#/components/schemas/WorkspaceOutput"
    assert {"400", "403", "404", "409"} <= set(operation["responses"])


# ---------------------------------------------------------------------------- members


def test_list_members(api, workspace, user):
    member = add_member(workspace, Role.VIEWER)
    body = api.get(ws_url(workspace, "members/")).json()
    assert body["count"] == 2
    assert {(m["user_id"], m["role"]) for m in body["results"]} == {
        (user.pk, "owner"),
        (member.user_id, "viewer"),
    }


def test_change_member_role(api, workspace):
    member = add_member(workspace, Role.VIEWER)
    response = api.patch(
        ws_url(workspace, f"members/{member.user_id}/"), {"role": "admin"}, format="json"
    )
    assert response.status_code == 200 and response.json()["role"] == "admin"
    member.refresh_from_db()
    assert member.role == Role.ADMIN


def test_change_role_to_unknown_value_is_400(api, workspace):
    member = add_member(workspace, Role.VIEWER)
    response = api.patch(
        ws_url(workspace, f"members/{member.user_id}/"), {"role": "root"}, format="json"
    )
    assert "role" in assert_error(response, 400)["fields"]
    member.refresh_from_db()
    assert member.role == Role.VIEWER


def test_demoting_the_last_owner_is_409(api, workspace, user):
    response = api.patch(ws_url(workspace, f"members/{user.pk}/"), {"role": "admin"}, format="json")
    assert_error(response, 409)
    assert Membership.objects.get(workspace=workspace, user=user).role == Role.OWNER


def test_admin_cannot_promote_to_owner_403(workspace):
    admin = add_member(workspace, Role.ADMIN)
    member = add_member(workspace, Role.VIEWER)
    client = APIClient()
    client.force_login(admin.user)
    response = client.patch(
        ws_url(workspace, f"members/{member.user_id}/"), {"role": "owner"}, format="json"
    )
    assert_error(response, 403, "permission_denied")
    member.refresh_from_db()
    assert member.role == Role.VIEWER


def test_remove_member_and_leave(api, workspace):
    member = add_member(workspace, Role.VIEWER)
    assert api.delete(ws_url(workspace, f"members/{member.user_id}/")).status_code == 204
    assert not Membership.objects.filter(pk=member.pk).exists()
    leaver = add_member(workspace, Role.VIEWER)
    client = APIClient()
    client.force_login(leaver.user)
    assert client.delete(ws_url(workspace, f"members/{leaver.user_id}/")).status_code == 204
    assert not Membership.objects.filter(pk=leaver.pk).exists()


def test_member_of_another_workspace_is_404(api, workspace):
    other = add_member(WorkspaceFactory(), Role.VIEWER)
    assert_error(api.delete(ws_url(workspace, f"members/{other.user_id}/")), 404)
    assert Membership.objects.filter(pk=other.pk).exists()


# ---------------------------------------------------------------------------- invitations


def test_create_invitation_never_returns_the_token(
    api, workspace, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            ws_url(workspace, "invitations/"),
            {"email": "new@example.com", "role": "developer"},
            format="json",
        )
    assert response.status_code == 201
    body = response.json()
    invitation = Invitation.objects.get(pk=body["id"])
    assert body["status"] == "pending"
    assert not {"token", "token_hash"} & set(body)
    assert invitation.token_hash not in response.content.decode()
    token = mail.outbox[0].body.split("/invitations/")[1].split("/")[0]
    assert token not in response.content.decode()


@pytest.mark.parametrize(
    "payload",
    [
        {"email": "nope", "role": "viewer"},
        {"email": "a@example.com", "role": "god"},
        {"email": "a@example.com"},
        {"email": "a@example.com", "role": "viewer", "token": "mine"},
    ],
)
def test_create_invitation_with_bad_input_is_400_and_creates_nothing(api, workspace, payload):
    assert_error(api.post(ws_url(workspace, "invitations/"), payload, format="json"), 400)
    assert not Invitation.objects.exists()


def test_inviting_twice_is_409(api, workspace):
    payload = {"email": "a@example.com", "role": "viewer"}
    assert api.post(ws_url(workspace, "invitations/"), payload, format="json").status_code == 201
    assert_error(
        api.post(ws_url(workspace, "invitations/"), payload, format="json"), 409, "already_invited"
    )
    assert Invitation.objects.count() == 1


def test_list_resend_and_revoke_invitations(api, workspace, user):
    invitation, _ = invitation_create(
        workspace=workspace, actor=user, email="a@example.com", role=Role.VIEWER
    )
    body = api.get(ws_url(workspace, "invitations/")).json()
    assert [i["id"] for i in body["results"]] == [invitation.pk]
    old_hash = invitation.token_hash
    response = api.post(ws_url(workspace, f"invitations/{invitation.pk}/resend/"))
    assert response.status_code == 200
    invitation.refresh_from_db()
    assert invitation.token_hash != old_hash
    response = api.post(ws_url(workspace, f"invitations/{invitation.pk}/revoke/"))
    assert response.status_code == 200 and response.json()["status"] == "revoked"
    assert_error(api.post(ws_url(workspace, f"invitations/{invitation.pk}/resend/")), 409)


# ---------------------------------------------------------------------------- audit events


def test_audit_events_filter_and_paginate(api, workspace, user):
    for i in range(3):
        invitation_create(
            workspace=workspace, actor=user, email=f"a{i}@example.com", role=Role.VIEWER
        )
    body = api.get(
        ws_url(workspace, "audit-events/"), {"action": Action.INVITATION_SENT, "page_size": 2}
    ).json()
    assert len(body["results"]) == 2 and body["next"] and body["previous"] is None
    assert {e["action"] for e in body["results"]} == {Action.INVITATION_SENT}
    assert "entry_hash" not in body["results"][0]
    second = api.get(body["next"]).json()
    assert len(second["results"]) == 1 and second["next"] is None and second["previous"]
    assert {e["id"] for e in body["results"]}.isdisjoint(e["id"] for e in second["results"])
    by_actor = api.get(ws_url(workspace, "audit-events/"), {"actor": user.pk + 1000}).json()
    assert by_actor == {"next": None, "previous": None, "results": []}


def test_audit_events_pages_have_no_count_and_end_with_404(api, workspace):
    for _ in range(3):
        audit_record(action=Action.WORKSPACE_RENAMED, workspace=workspace)
    url = ws_url(workspace, "audit-events/")
    body = api.get(url, {"page_size": 2, "page": 2}).json()
    assert "count" not in body and len(body["results"]) >= 1
    # A page past the last is missing, as with counted pages; `last` needs a count.
    assert_error(api.get(url, {"page_size": 2, "page": 50}), 404)
    assert_error(api.get(url, {"page": "last"}), 400, "invalid")


def test_audit_events_cost_the_same_with_more_events(api, workspace):
    url = ws_url(workspace, "audit-events/")
    api.get(url)  # the first request also touches the session
    with CaptureQueriesContext(connection) as few:
        assert api.get(url).status_code == 200
    for _ in range(120):
        audit_record(action=Action.WORKSPACE_RENAMED, workspace=workspace)
    with CaptureQueriesContext(connection) as many:
        body = api.get(url).json()
    assert len(body["results"]) == 50 and body["next"]
    assert len(many) == len(few)
    # One page and one row more are read; the events are never counted.
    assert not [q["sql"] for q in many.captured_queries if "COUNT(" in q["sql"].upper()]


@pytest.mark.parametrize(
    "params",
    [
        {"action": "not.an.action"},
        {"since": "yesterday"},
        {"since": "2024-02-02", "until": "2024-02-01"},
        {"actor": "me"},
        {"colour": "blue"},
    ],
)
def test_audit_events_with_bad_filters_are_400(api, workspace, params):
    assert_error(api.get(ws_url(workspace, "audit-events/"), params), 400, "invalid")


def test_audit_events_are_404_for_developers(workspace):
    dev = add_member(workspace, Role.DEVELOPER)
    client = APIClient()
    client.force_login(dev.user)
    assert_error(client.get(ws_url(workspace, "audit-events/")), 404)


def test_list_query_count_does_not_grow_with_members(api, workspace):
    for _ in range(3):
        add_member(workspace, Role.VIEWER)
    api.get(ws_url(workspace, "members/"))  # the first request also touches the session
    with CaptureQueriesContext(connection) as few:
        api.get(ws_url(workspace, "members/"))
    for _ in range(10):
        add_member(workspace, Role.VIEWER, user=UserFactory())
    with CaptureQueriesContext(connection) as many:
        api.get(ws_url(workspace, "members/"))
    assert len(many) == len(few)


def test_schema_lists_every_endpoint(api):
    response = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    paths = response.json()["paths"] if response["Content-Type"].endswith("json") else None
    if paths is None:
        import yaml

        paths = yaml.safe_load(response.content)["paths"]
    for expected in (
        "/api/v1/me/",
        "/api/v1/workspaces/",
        "/api/v1/workspaces/{workspace_id}/",
        "/api/v1/workspaces/{workspace_id}/transfer-ownership/",
        "/api/v1/workspaces/{workspace_id}/members/",
        "/api/v1/workspaces/{workspace_id}/members/{user_id}/",
        "/api/v1/workspaces/{workspace_id}/invitations/",
        "/api/v1/workspaces/{workspace_id}/invitations/{invitation_id}/resend/",
        "/api/v1/workspaces/{workspace_id}/invitations/{invitation_id}/revoke/",
        "/api/v1/workspaces/{workspace_id}/audit-events/",
    ):
        assert expected in paths


# ---------------------------------------------------------------------------- hostile names

UNSAFE_NAMES = ["Team\tOne", "Team\nBcc: x@example.com", "Team \u202eenO", "Team \u2067One\u2069"]


@pytest.mark.parametrize("name", UNSAFE_NAMES)
def test_a_workspace_name_with_control_or_direction_characters_is_400(api, user, name):
    before = Workspace.objects.count()
    error = assert_error(api.post("/api/v1/workspaces/", {"name": name}, format="json"), 400)
    assert "no line breaks, tabs" in error["fields"]["name"][0]
    assert Workspace.objects.count() == before


@pytest.mark.parametrize("name", UNSAFE_NAMES)
def test_renaming_a_workspace_to_an_unsafe_name_is_400_and_changes_nothing(api, workspace, name):
    error = assert_error(api.patch(ws_url(workspace), {"name": name}, format="json"), 400)
    assert "name" in error["fields"]
    workspace.refresh_from_db()
    assert "\t" not in workspace.name and "\u202e" not in workspace.name


@pytest.mark.parametrize("name", UNSAFE_NAMES)
def test_me_patch_with_an_unsafe_name_is_400_and_changes_nothing(api, user, name):
    old = user.name
    error = assert_error(api.patch("/api/v1/me/", {"name": name}, format="json"), 400)
    assert "name" in error["fields"]
    user.refresh_from_db()
    assert user.name == old


# ---------------------------------------------------------------------------- invitation addresses


def test_an_invitation_address_is_stored_in_its_one_spelling(api, workspace):
    response = api.post(
        ws_url(workspace, "invitations/"),
        {"email": "Bob@\uff45xample.COM", "role": "developer"},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["email"] == "bob@example.com"
    assert Invitation.objects.get().email == "bob@example.com"


def test_inviting_another_spelling_of_a_pending_address_is_409(api, workspace):
    invitation_create(
        workspace=workspace,
        actor=workspace.memberships.get().user,
        email="bob@example.com",
        role="developer",
    )
    response = api.post(
        ws_url(workspace, "invitations/"),
        {"email": "BOB@\uff45xample.com", "role": "developer"},
        format="json",
    )
    assert_error(response, 409, "already_invited")
    assert Invitation.objects.count() == 1


@pytest.mark.parametrize(
    ("email", "message"),
    [
        ('"bob"@example.com', "quotation marks"),
        ("bob@ex\u0430mple.com", "mixes letters from different alphabets"),
    ],
)
def test_inviting_a_quoted_or_mixed_script_address_is_400_and_creates_nothing(
    api, workspace, email, message
):
    response = api.post(
        ws_url(workspace, "invitations/"), {"email": email, "role": "developer"}, format="json"
    )
    error = assert_error(response, 400)
    assert message in error["fields"]["email"][0]
    assert not Invitation.objects.exists()
