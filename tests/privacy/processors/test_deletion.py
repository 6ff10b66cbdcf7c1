"""Account deletion carries the erasure to processors, and its receipt lists them."""

import json

import pytest

from accounts.models import OutboundEmail, User
from apikeys.keys.models import ApiKey
from privacy.deletion import services as deletion_module
from privacy.deletion.models import DeletionRequest
from privacy.deletion.services import account_deletion_cancel, account_deletion_request
from privacy.processors.models import ActionState, ProcessorAction
from privacy.processors.services import processor_action_complete
from privacy.requests.deadlines import Jurisdiction
from privacy.requests.models import RequestStatus, RequestType
from privacy.requests.services import privacy_request_submit
from tests.factories import UserFactory, WorkspaceFactory, api_key_row
from tests.privacy.deletion.test_services import make_due, run_to_end
from tests.privacy.processors.support import register_processor

pytestmark = pytest.mark.django_db


@pytest.fixture
def leaving(settings):
    settings.DELETION_BATCH_SIZE = 1000
    user = UserFactory(email="leaving@example.com")
    workspace = WorkspaceFactory(owner=user)
    key = api_key_row(workspace)
    ApiKey.objects.filter(pk=key.pk).update(created_by=user)
    key.refresh_from_db()
    return user, workspace, key


def test_the_deletion_job_tells_processors_with_identifiers_captured_before_the_data_goes(
    leaving,
):
    user, workspace, key = leaving
    processor, _, _ = register_processor(
        name="Gateway logs",
        kinds=("erasure",),
        identifiers=("account_id", "workspace_ids", "api_key_ids"),
    )
    register_processor(name="Analytics", kinds=("access",))
    deletion = account_deletion_request(user=user)
    make_due(deletion)
    assert not ProcessorAction.objects.exists()  # nothing is told during the grace period

    run_to_end(deletion.pk)

    assert not User.objects.filter(pk=user.pk).exists()
    action = ProcessorAction.objects.get()
    assert action.processor == processor
    assert action.kind == "erasure"
    assert action.deletion_id == deletion.pk
    assert json.loads(action.identifiers) == {
        "account_id": str(user.pk),
        "workspace_ids": [str(workspace.pk)],
        "api_key_ids": [key.public_id],
    }
    deletion.refresh_from_db()
    assert [p["processor"] for p in deletion.receipt["processors"]] == ["Gateway logs"]
    receipt = OutboundEmail.objects.get(kind=deletion_module.RECEIPT_EMAIL_KIND)
    assert "Gateway logs:" in receipt.body


def test_an_erasure_request_sends_its_held_actions_when_the_job_runs_and_completes_after_them(
    leaving,
):
    user, _, _ = leaving
    processor, _, _ = register_processor(kinds=("erasure",))
    request = privacy_request_submit(
        user=user, request_type=RequestType.DELETION, jurisdiction=Jurisdiction.EEA_UK
    )
    request.refresh_from_db()
    deletion = DeletionRequest.objects.get(pk=request.deletion_id)
    make_due(deletion)

    run_to_end(deletion.pk)

    action = ProcessorAction.objects.get()  # the request's own, not a second one
    assert action.privacy_request_id == request.pk
    assert action.hold_until_deletion is False
    request.refresh_from_db()
    assert request.status == RequestStatus.IN_PROGRESS
    assert request.carried_out_at is not None
    processor_action_complete(processor=processor, public_id=action.public_id, result="Erased.")
    request.refresh_from_db()
    assert request.status == RequestStatus.COMPLETED


def test_cancelling_the_deletion_in_its_grace_period_cancels_the_held_erasure(leaving):
    user, _, _ = leaving
    register_processor(kinds=("erasure",))
    request = privacy_request_submit(
        user=user, request_type=RequestType.DELETION, jurisdiction=Jurisdiction.EEA_UK
    )
    account_deletion_cancel(user=user)
    action = ProcessorAction.objects.get()
    assert action.state == ActionState.CANCELLED
    assert action.sent_at is None
    request.refresh_from_db()
    assert request.status == RequestStatus.CANCELLED
