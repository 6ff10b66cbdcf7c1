import uuid

import pytest
from rest_framework.test import APIClient

from apikeys.keys.scopes import MANAGEMENT_SCOPES
from apikeys.keys.services import api_key_create
from support import files
from support.models import Status, SupportAttachment, SupportMessage, SupportRequest
from support.services import support_note_add, support_request_create, support_staff_reply
from tests.factories import UserFactory, WorkspaceFactory
from tests.support import staff_member
from tests.support_desk.conftest import PNG, png, text_file

pytestmark = pytest.mark.django_db
URL = "/api/v1/support/requests/"


@pytest.fixture
def api(user):
    client = APIClient()
    client.force_login(user)
    return client


def test_open_list_read_reply_and_close(api, user):
    workspace = WorkspaceFactory(owner=user, name="Mine")
    key, _ = api_key_create(
        workspace=workspace, actor=user, name="k", environment="production", scopes=["inference"]
    )
    created = api.post(
        URL,
        {
            "subject": "Key refused",
            "category": "api_keys",
            "message": "It answers 401.",
            "workspace_id": str(workspace.pk),
            "api_key_id": key.public_id,
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["status"] == "open" and body["api_key_id"] == key.public_id
    assert [m["body"] for m in body["messages"]] == ["It answers 401."]
    assert [item["id"] for item in api.get(URL).json()["results"]] == [body["id"]]
    request = SupportRequest.objects.get()
    staff = UserFactory(is_staff=True)
    support_staff_reply(request=request, actor=staff, message="Rotate it.")
    support_note_add(request=request, actor=staff, text="internal only")
    detail = api.get(f"{URL}{body['id']}/").json()
    assert detail["status"] == "answered"
    assert [(m["from_staff"], m["body"]) for m in detail["messages"]] == [
        (False, "It answers 401."),
        (True, "Rotate it."),
    ]
    closed = api.post(f"{URL}{body['id']}/close/")
    assert closed.json()["status"] == "closed"
    again = api.post(f"{URL}{body['id']}/close/")
    assert again.status_code == 409 and again.json()["error"]["code"] == "invalid_transition"
    reply = api.post(f"{URL}{body['id']}/reply/", {"message": "Still 401."}, format="json")
    assert reply.status_code == 200 and reply.json()["status"] == "open"


def test_bad_input_is_refused_in_the_error_format_and_stores_nothing(api, user):
    for body in (
        {"subject": "s", "category": "gossip", "message": "m"},
        {"subject": "s", "category": "other", "message": "m", "extra": 1},
        {"subject": "s", "category": "other", "message": "m" * 4001},
        {"subject": 5, "category": "other", "message": "m"},
        {"subject": "s", "category": "other", "message": "a\u0000b"},
    ):
        response = api.post(URL, body, format="json")
        assert response.status_code == 400, (body, response.content)
        assert set(response.json()) == {"error"}
    assert SupportRequest.objects.count() == 0


def test_a_workspace_or_key_that_is_not_yours_answers_404_like_any_foreign_id(api, user):
    stranger = UserFactory()
    theirs = WorkspaceFactory(owner=stranger, name="Theirs")
    their_key, _ = api_key_create(
        workspace=theirs,
        actor=stranger,
        name="theirs",
        environment="development",
        scopes=["inference"],
    )
    for body in (
        {"subject": "s", "category": "other", "message": "m", "workspace_id": str(theirs.pk)},
        {"subject": "s", "category": "other", "message": "m", "workspace_id": str(uuid.uuid4())},
        {"subject": "s", "category": "other", "message": "m", "api_key_id": their_key.public_id},
        {"subject": "s", "category": "other", "message": "m", "api_key_id": "ak_nothing"},
    ):
        response = api.post(URL, body, format="json")
        assert response.status_code == 404, (body, response.content)
        assert response.json()["error"]["code"] == "not_found"
    assert SupportRequest.objects.count() == 0


def test_someone_elses_request_answers_404_everywhere(api):
    other = APIClient()
    other.force_login(UserFactory())
    created = other.post(
        URL, {"subject": "s", "category": "other", "message": "m"}, format="json"
    ).json()
    assert api.get(f"{URL}{created['id']}/").status_code == 404
    assert api.post(f"{URL}{created['id']}/close/").status_code == 404
    assert (
        api.post(f"{URL}{created['id']}/reply/", {"message": "x"}, format="json").status_code == 404
    )
    assert api.get(URL).json()["results"] == []
    assert SupportMessage.objects.count() == 1
    assert SupportRequest.objects.get().status == Status.OPEN


def test_anonymous_and_management_keys_are_refused(user):
    assert APIClient().get(URL).status_code in (401, 403)
    workspace = WorkspaceFactory(owner=user)
    _, full = api_key_create(
        workspace=workspace, actor=user, name="m", environment="development", scopes=["keys.read"]
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {full}")
    assert client.get(URL).status_code in (401, 403)
    response = client.post(
        URL, {"subject": "s", "category": "other", "message": "m"}, format="json"
    )
    assert response.status_code in (401, 403)
    assert SupportRequest.objects.count() == 0


def test_the_schema_documents_the_endpoints(client):
    paths = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/support/requests/"])
    assert "get" in paths["/api/v1/support/requests/{support_request_id}/"]
    assert "post" in paths["/api/v1/support/requests/{support_request_id}/reply/"]
    assert "post" in paths["/api/v1/support/requests/{support_request_id}/close/"]


# ---------------------------------------------------------------------------- attachments


def _attachment_url(request, attachment) -> str:
    return f"{URL}{request.pk}/attachments/{attachment.pk}/"


def test_a_file_of_the_thread_downloads_as_an_octet_stream_under_its_name(api, user):
    request = support_request_create(
        user=user, subject="Logs", category="other", message="See file.", attachments=[text_file()]
    )
    staff = staff_member("Support")
    support_staff_reply(request=request, actor=staff, message="Try this.", attachments=[png()])
    mine, theirs = SupportAttachment.objects.order_by("created_at")

    for attachment, data in ((mine, b"error 42 at 12:00\n"), (theirs, PNG)):
        response = api.get(_attachment_url(request, attachment))
        assert response.status_code == 200
        assert response["Content-Type"] == "application/octet-stream"
        assert response["Content-Disposition"].startswith("attachment")
        assert attachment.file_name in response["Content-Disposition"]
        assert response["X-Content-Type-Options"] == "nosniff"
        assert b"".join(response) == data


def test_a_file_of_someone_elses_request_or_a_missing_one_is_not_found(api, user):
    stranger = UserFactory()
    theirs = support_request_create(
        user=stranger, subject="Mine", category="other", message="x", attachments=[png()]
    )
    attachment = theirs.attachments.get()
    assert api.get(_attachment_url(theirs, attachment)).status_code == 404
    mine = support_request_create(user=user, subject="Mine", category="other", message="x")
    # Someone else's file under my own request is not found either.
    assert api.get(_attachment_url(mine, attachment)).status_code == 404
    response = api.get(f"{URL}{mine.pk}/attachments/{uuid.uuid4()}/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_a_file_whose_bytes_are_gone_is_not_found(api, user):
    request = support_request_create(
        user=user, subject="Logs", category="other", message="x", attachments=[png()]
    )
    attachment = request.attachments.get()
    files.path_for(attachment.pk).unlink()
    response = api.get(_attachment_url(request, attachment))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_files_are_not_downloaded_with_a_management_key(user):
    workspace = WorkspaceFactory(owner=user)
    _, secret = api_key_create(
        workspace=workspace,
        actor=user,
        name="automation",
        environment="production",
        scopes=list(MANAGEMENT_SCOPES),
    )
    request = support_request_create(
        user=user, subject="Logs", category="other", message="x", attachments=[png()]
    )
    client = APIClient()
    response = client.get(
        _attachment_url(request, request.attachments.get()),
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )
    assert response.status_code in (401, 403)
