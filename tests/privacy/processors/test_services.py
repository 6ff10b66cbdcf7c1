import json

import pytest
from django.utils import timezone

from accounts.errors import Conflict, DomainError, NotFound
from accounts.models import AuditEvent
from privacy.processors.models import ActionState, Processor, ProcessorAction
from privacy.processors.services import (
    processor_action_complete,
    processor_action_override,
    processor_action_receive,
    processor_action_refuse,
    processor_authenticate,
    processor_rotate_token,
    processor_update,
)
from privacy.requests.deadlines import Jurisdiction
from privacy.requests.models import RequestStatus, RequestType
from privacy.requests.services import (
    privacy_request_cancel,
    privacy_request_complete,
    privacy_request_submit,
)
from tests.factories import UserFactory, WorkspaceFactory
from tests.privacy.processors.support import register_processor
from tests.support import staff_member

pytestmark = pytest.mark.django_db


def _submit(user, request_type):
    return privacy_request_submit(
        user=user, request_type=request_type, jurisdiction=Jurisdiction.EEA_UK
    )


def test_registering_gives_a_secret_and_a_token_once_and_stores_only_the_tokens_hash():
    processor, secret, token = register_processor()
    assert secret.startswith("whsec_")
    assert token.startswith("prc_")
    stored = Processor.objects.get(pk=processor.pk)
    assert token not in (stored.token_hash, stored.token_public_id)
    assert token.split("_")[2] not in stored.token_hash
    assert processor_authenticate(token=token) == processor
    assert AuditEvent.objects.filter(action="privacy_processor.created").exists()


def test_a_wrong_or_rotated_token_authenticates_no_one():
    processor, _, token = register_processor()
    assert processor_authenticate(token=token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert processor_authenticate(token="prc_nothing") is None
    new = processor_rotate_token(processor=processor, actor=None)
    assert processor_authenticate(token=token) is None
    assert processor_authenticate(token=new) == processor


def test_registration_refuses_a_processor_with_nothing_to_handle_or_a_bad_url():
    with pytest.raises(DomainError) as refused:
        register_processor(kinds=(), url="ftp://example.com/")
    assert set(refused.value.fields) == {"request_kinds", "url"}
    assert not Processor.objects.exists()


def test_a_confirmed_opt_out_creates_one_action_per_processor_that_handles_it():
    handles, _, _ = register_processor(name="Gateway logs", kinds=("opt_out",))
    register_processor(name="Abuse store", kinds=("erasure",))
    user = UserFactory()
    request = _submit(user, RequestType.TRAINING_OPT_OUT)
    actions = list(ProcessorAction.objects.for_request(request.pk))
    assert [a.processor_id for a in actions] == [handles.pk]
    assert actions[0].kind == "opt_out"
    assert actions[0].subject_user_id == user.pk


def test_each_processor_gets_only_the_identifiers_it_needs(user):
    workspace = WorkspaceFactory(owner=user)
    register_processor(name="Gateway logs", identifiers=("account_id", "workspace_ids"))
    register_processor(name="Mail provider", identifiers=("email",))
    request = _submit(user, RequestType.ACCESS)
    sent = {
        a.processor.name: json.loads(a.identifiers)
        for a in ProcessorAction.objects.for_request(request.pk).select_related("processor")
    }
    assert sent == {
        "Gateway logs": {"account_id": str(user.pk), "workspace_ids": [str(workspace.pk)]},
        "Mail provider": {"email": user.email.lower()},
    }


def test_a_request_type_no_processor_handles_creates_no_action(user):
    register_processor(kinds=("erasure",))
    request = _submit(user, RequestType.CORRECTION)
    assert not ProcessorAction.objects.for_request(request.pk).exists()


def test_an_automated_request_waits_for_its_processors_and_completes_with_the_last_answer(user):
    first, _, _ = register_processor(name="Gateway logs", kinds=("opt_out",))
    second, _, _ = register_processor(name="Abuse store", kinds=("opt_out",))
    request = _submit(user, RequestType.TRAINING_OPT_OUT)
    request.refresh_from_db()
    assert request.status == RequestStatus.IN_PROGRESS
    assert request.carried_out_at is not None
    one, two = ProcessorAction.objects.for_request(request.pk).order_by("processor__name")
    processor_action_complete(processor=second, public_id=one.public_id, result="Stopped.")
    request.refresh_from_db()
    assert request.status == RequestStatus.IN_PROGRESS
    processor_action_receive(processor=first, public_id=two.public_id)
    processor_action_complete(processor=first, public_id=two.public_id, result="Excluded.")
    request.refresh_from_db()
    assert request.status == RequestStatus.COMPLETED
    assert "processor" in request.resolution


def test_staff_cannot_complete_a_request_while_a_processor_owes_its_part(user):
    register_processor(kinds=("restriction",))
    staff = staff_member("Privacy")
    request = _submit(user, RequestType.RESTRICTION)
    with pytest.raises(Conflict) as refused:
        privacy_request_complete(request=request, actor=staff, resolution="Restricted.")
    assert refused.value.code == "processors_outstanding"
    action = ProcessorAction.objects.for_request(request.pk).get()
    processor_action_override(action=action, actor=staff, reason="Confirmed by phone.")
    privacy_request_complete(request=request, actor=staff, resolution="Restricted.")
    request.refresh_from_db()
    assert request.status == RequestStatus.COMPLETED
    action.refresh_from_db()
    assert action.state == ActionState.OVERRIDDEN
    assert action.reason == "Confirmed by phone."
    assert action.overridden_by_id == staff.pk
    assert AuditEvent.objects.filter(action="privacy_processor.action_overridden").exists()


def test_a_refusal_keeps_the_request_waiting_until_staff_override_it(user):
    processor, _, _ = register_processor(kinds=("opt_out",))
    request = _submit(user, RequestType.TRAINING_OPT_OUT)
    action = ProcessorAction.objects.for_request(request.pk).get()
    processor_action_refuse(processor=processor, public_id=action.public_id, reason="No data.")
    request.refresh_from_db()
    assert request.status == RequestStatus.IN_PROGRESS
    processor_action_override(
        action=action, actor=staff_member("Privacy"), reason="It holds no data on them."
    )
    request.refresh_from_db()
    assert request.status == RequestStatus.COMPLETED


def test_answers_repeat_harmlessly_and_contradictions_are_conflicts(user):
    processor, _, _ = register_processor(kinds=("opt_out",))
    request = _submit(user, RequestType.TRAINING_OPT_OUT)
    action = ProcessorAction.objects.for_request(request.pk).get()
    processor_action_receive(processor=processor, public_id=action.public_id)
    processor_action_receive(processor=processor, public_id=action.public_id)
    processor_action_complete(processor=processor, public_id=action.public_id, result="Done.")
    again = processor_action_complete(
        processor=processor, public_id=action.public_id, result="Done again."
    )
    assert again.result == "Done."
    for answer in (
        lambda: processor_action_refuse(
            processor=processor, public_id=action.public_id, reason="x"
        ),
        lambda: processor_action_receive(processor=processor, public_id=action.public_id),
    ):
        with pytest.raises(Conflict):
            answer()
    action.refresh_from_db()
    assert action.state == ActionState.COMPLETED
    assert action.identifiers == ""  # erased once settled


def test_a_processor_cannot_see_another_processors_action(user):
    register_processor(name="Gateway logs", kinds=("opt_out",))
    other, _, _ = register_processor(name="Abuse store", kinds=("erasure",))
    request = _submit(user, RequestType.TRAINING_OPT_OUT)
    action = ProcessorAction.objects.for_request(request.pk).get()
    with pytest.raises(NotFound):
        processor_action_receive(processor=other, public_id=action.public_id)
    action.refresh_from_db()
    assert action.state == ActionState.SENT


def test_an_empty_result_is_refused_and_changes_nothing(user):
    processor, _, _ = register_processor(kinds=("opt_out",))
    request = _submit(user, RequestType.TRAINING_OPT_OUT)
    action = ProcessorAction.objects.for_request(request.pk).get()
    with pytest.raises(DomainError):
        processor_action_complete(processor=processor, public_id=action.public_id, result="  ")
    action.refresh_from_db()
    assert action.state == ActionState.SENT


def test_cancelling_the_request_cancels_its_open_actions(user):
    register_processor(kinds=("restriction",))
    request = _submit(user, RequestType.RESTRICTION)
    privacy_request_cancel(request=request, user=user)
    action = ProcessorAction.objects.for_request(request.pk).get()
    assert action.state == ActionState.CANCELLED
    assert action.identifiers == ""


def test_a_disabled_processor_is_sent_no_new_requests(user):
    processor, _, _ = register_processor(kinds=("opt_out",))
    processor_update(
        processor=processor,
        name=processor.name,
        purpose=processor.purpose,
        url=processor.url,
        request_kinds=processor.request_kinds,
        identifiers=processor.identifiers,
        disabled=True,
        actor=None,
    )
    request = _submit(user, RequestType.TRAINING_OPT_OUT)
    assert not ProcessorAction.objects.for_request(request.pk).exists()
    request.refresh_from_db()
    assert request.status == RequestStatus.COMPLETED


def test_an_erasure_request_holds_its_actions_until_the_deletion_job(user):
    register_processor(kinds=("erasure",))
    request = _submit(user, RequestType.DELETION)
    request.refresh_from_db()
    action = ProcessorAction.objects.for_request(request.pk).get()
    assert action.hold_until_deletion is True
    assert action.deletion_id == request.deletion_id
    assert action.state == ActionState.PENDING
    assert action.created_at <= timezone.now()


def test_each_processor_is_sent_one_message_with_only_its_identifiers(user):
    from accounts.webhooks.models import WebhookMessage

    processor, _, _ = register_processor(kinds=("opt_out",), identifiers=("email",))
    request = _submit(user, RequestType.TRAINING_OPT_OUT)
    action = ProcessorAction.objects.for_request(request.pk).get()
    assert action.state == ActionState.SENT
    assert action.sent_at is not None
    message = WebhookMessage.objects.get(endpoint=processor.webhook_endpoint)
    assert action.message_id == message.pk
    assert message.event_type == "privacy_request.processor_action"
    data = message.payload["data"]
    assert data["subject"] == {"email": user.email.lower()}
    assert data["action_id"] == action.public_id
    assert data["callbacks"]["completed"].endswith(
        f"/api/v1/processors/requests/{action.public_id}/completed"
    )


def test_cancelling_a_request_already_sent_tells_the_processor(user):
    from accounts.webhooks.models import WebhookMessage

    processor, _, _ = register_processor(kinds=("restriction",))
    request = _submit(user, RequestType.RESTRICTION)
    privacy_request_cancel(request=request, user=user)
    first, last = WebhookMessage.objects.filter(endpoint=processor.webhook_endpoint).order_by(
        "created_at", "pk"
    )
    assert first.payload["data"]["state"] == "sent"
    assert last.payload["data"]["state"] == "cancelled"
    assert last.payload["data"]["subject"] == {}


def test_rotating_the_signing_secret_keeps_the_old_one_signing_for_the_overlap():
    from privacy.processors.services import processor_rotate_secret

    processor, old, _ = register_processor()
    new = processor_rotate_secret(processor=processor, actor=None)
    processor.webhook_endpoint.refresh_from_db()
    assert processor.webhook_endpoint.signing_secrets() == [new, old]


def test_registration_refuses_a_url_the_webhook_rules_refuse():
    with pytest.raises(DomainError) as refused:
        register_processor(url="https://169.254.169.254/latest")
    assert "url" in refused.value.fields
    assert not Processor.objects.exists()


def test_the_staff_deadline_alert_lists_the_processors_still_owing(user, settings):
    from datetime import timedelta

    from accounts.models import OutboundEmail
    from privacy.requests.services import privacy_requests_alert_staff

    settings.PRIVACY_STAFF_EMAILS = ["dpo@example.com"]
    register_processor(name="Gateway logs", kinds=("opt_out",))
    request = _submit(user, RequestType.TRAINING_OPT_OUT)
    request.refresh_from_db()
    counts = privacy_requests_alert_staff(today=request.due_date - timedelta(days=1))
    assert counts["due_soon"] == 1
    alert = OutboundEmail.objects.order_by("-pk").first()
    assert alert.recipients == '["dpo@example.com"]'
    body = alert.body
    assert "Waiting on processors:" in body
    assert "Gateway logs: sent" in body


def test_reminders_wait_for_the_configured_time_and_leave_held_actions_alone(user, settings):
    from datetime import timedelta

    import time_machine

    from accounts.webhooks.models import WebhookMessage
    from privacy.processors.services import processor_actions_remind

    settings.PROCESSOR_REMINDER_AFTER_HOURS = 72
    processor, _, _ = register_processor(kinds=("opt_out", "erasure"))
    _submit(user, RequestType.TRAINING_OPT_OUT)
    _submit(UserFactory(), RequestType.DELETION)  # held until its deletion job runs
    start = timezone.now()
    with time_machine.travel(start + timedelta(hours=71)):
        assert processor_actions_remind() == 0
    with time_machine.travel(start + timedelta(hours=73)):
        assert processor_actions_remind() == 1
        assert processor_actions_remind() == 0
    with time_machine.travel(start + timedelta(hours=73 + 72 + 1)):
        assert processor_actions_remind() == 1
    sent = ProcessorAction.objects.get(kind="opt_out")
    held = ProcessorAction.objects.get(kind="erasure")
    assert (sent.reminders_sent, held.reminders_sent) == (2, 0)
    assert held.state == ActionState.PENDING
    reminders = WebhookMessage.objects.filter(
        endpoint=processor.webhook_endpoint, payload__data__reminder=True
    )
    assert reminders.count() == 2
