import pytest
from rest_framework.test import APIClient

from accounts.models import AuditEvent
from privacy.processors.models import ActionState, ProcessorAction
from privacy.requests.deadlines import Jurisdiction
from privacy.requests.models import RequestType
from privacy.requests.services import privacy_request_submit
from tests.api.support import assert_error_format
from tests.privacy.processors.support import register_processor
from tests.support import api_client_signed_in

pytestmark = pytest.mark.django_db


class _Response:
    """Enough of a schemathesis response for the shared error-format check."""

    def __init__(self, response):
        self.status_code = response.status_code
        self.headers = {"content-type": [response.headers.get("Content-Type", "")]}
        self._response = response

    def json(self):
        return self._response.json()


@pytest.fixture
def setup(user):
    processor, _, token = register_processor(kinds=("opt_out",))
    privacy_request_submit(
        user=user, request_type=RequestType.TRAINING_OPT_OUT, jurisdiction=Jurisdiction.EEA_UK
    )
    action = ProcessorAction.objects.get(processor=processor)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client, action


def _url(action_id: str, what: str) -> str:
    return f"/api/v1/processors/requests/{action_id}/{what}"


def test_a_processor_says_received_then_completed(setup):
    client, action = setup
    response = client.post(_url(action.public_id, "received"))
    assert response.status_code == 200
    assert response.json()["state"] == "received"
    response = client.post(
        _url(action.public_id, "completed"), {"result": "Removed 12 log lines."}, format="json"
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["state"] == "completed"
    assert body["result"] == "Removed 12 log lines."
    assert body["id"] == action.public_id
    assert "subject" not in body and "identifiers" not in body
    assert AuditEvent.objects.filter(action="privacy_processor.action_completed").exists()


def test_a_refusal_needs_a_reason(setup):
    client, action = setup
    response = client.post(_url(action.public_id, "refused"), {}, format="json")
    assert response.status_code == 400
    assert_error_format(_Response(response))
    assert "reason" in response.json()["error"]["fields"]
    response = client.post(
        _url(action.public_id, "refused"), {"reason": "Legal hold."}, format="json"
    )
    assert response.status_code == 200
    action.refresh_from_db()
    assert action.state == ActionState.REFUSED
    assert action.reason == "Legal hold."


@pytest.mark.parametrize(
    "body",
    [
        {"result": ""},
        {"result": "x" * 501},
        {"result": 5},
        {"result": "line\nbreak"},
        {"result": "ok", "extra": 1},
        [],
    ],
)
def test_a_bad_result_is_refused_and_changes_nothing(setup, body):
    client, action = setup
    response = client.post(_url(action.public_id, "completed"), body, format="json")
    assert response.status_code == 400
    assert_error_format(_Response(response))
    action.refresh_from_db()
    assert action.state == ActionState.SENT


def test_a_contradicting_answer_is_a_conflict(setup):
    client, action = setup
    client.post(_url(action.public_id, "completed"), {"result": "Done."}, format="json")
    response = client.post(_url(action.public_id, "refused"), {"reason": "No."}, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "invalid_transition"


def test_another_processors_action_and_a_made_up_id_answer_404(setup):
    client, action = setup
    _, _, other_token = register_processor(name="Abuse store", kinds=("erasure",))
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Bearer {other_token}")
    response = other.post(_url(action.public_id, "received"))
    assert response.status_code == 404
    assert_error_format(_Response(response))
    assert client.post(_url("pra_" + "0" * 32, "received")).status_code == 404
    assert client.post(_url("not-an-id", "received")).status_code == 404
    action.refresh_from_db()
    assert action.state == ActionState.SENT


def test_no_token_a_wrong_token_or_a_session_answer_401(setup, user):
    _, action = setup
    assert APIClient().post(_url(action.public_id, "received")).status_code == 401
    wrong = APIClient()
    wrong.credentials(HTTP_AUTHORIZATION="Bearer prc_AAAAAAAAAAAA_" + "B" * 43)
    response = wrong.post(_url(action.public_id, "received"))
    assert response.status_code == 401
    assert_error_format(_Response(response))
    session = api_client_signed_in(user)
    assert session.post(_url(action.public_id, "received")).status_code == 401
    action.refresh_from_db()
    assert action.state == ActionState.SENT


def test_the_requester_sees_each_processors_state_through_the_privacy_request_api(user):
    processor, _, _ = register_processor(kinds=("opt_out",))
    privacy_request_submit(
        user=user, request_type=RequestType.TRAINING_OPT_OUT, jurisdiction=Jurisdiction.EEA_UK
    )
    client = api_client_signed_in(user)
    [body] = client.get("/api/v1/privacy/requests/").json()["results"]
    assert body["status"] == "in_progress"
    assert body["processors"] == [
        {
            "processor": processor.name,
            "purpose": processor.purpose,
            "state": "sent",
            "sent_at": body["processors"][0]["sent_at"],
            "closed_at": None,
        }
    ]
    assert body["processors"][0]["sent_at"] is not None
