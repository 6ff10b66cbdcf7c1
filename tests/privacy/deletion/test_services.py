"""The deletion ledger, its services and the job, run in-process against PostgreSQL."""

import json
import re
from datetime import timedelta

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.utils import timezone

from accounts.audit import audit_chain_verify, audit_record
from accounts.emails import outbound_email_send
from accounts.errors import Conflict, NotFound
from accounts.models import (
    AuditEvent,
    Invitation,
    Membership,
    OutboundEmail,
    OutboundEmailStatus,
    User,
    Workspace,
)
from accounts.permissions import Role
from accounts.services import workspace_delete
from apikeys.keys.models import ApiKey
from apikeys.keys.services import api_key_create
from apikeys.keys.tokens import Environment
from apikeys.keys.verification import verify
from apikeys.usage.models import BudgetAlert, UsageDailyRollup, UsageRecord
from privacy.consent.models import ConsentRecord
from privacy.data_use.models import PrivacySettings
from privacy.deletion import services as deletion_module
from privacy.deletion.models import DeletionKind, DeletionRequest, DeletionStatus
from privacy.deletion.services import (
    DeletionAction,
    account_deletion_cancel,
    account_deletion_cancel_by_token,
    account_deletion_plan,
    account_deletion_request,
    deletion_cancel_token,
    deletion_claim,
    deletion_from_cancel_token,
    deletion_run,
    deletion_sweep,
)
from tests.factories import UserFactory, WorkspaceFactory, add_member, api_key_row, usage_rows_load

pytestmark = pytest.mark.django_db


def make_due(deletion):
    DeletionRequest.objects.filter(pk=deletion.pk).update(
        scheduled_for=timezone.now() - timedelta(seconds=1)
    )


def run_to_end(deletion_id, **kwargs):
    outcomes = []
    for _ in range(1000):
        outcome = deletion_run(deletion_id=deletion_id, **kwargs)
        outcomes.append(outcome)
        if outcome != "yielded":
            return outcomes
    raise AssertionError("deletion never finished")


@pytest.fixture
def account(settings):
    """A user with a sole-owner workspace full of data and a workspace shared with others."""
    settings.DELETION_BATCH_SIZE = 1000
    user = UserFactory(email="leaving@example.com")
    own = WorkspaceFactory(owner=user, name="Mine")
    key = api_key_row(own)
    usage_rows_load(own, key, 3500)
    UsageDailyRollup.objects.create(
        workspace=own, api_key=key, day=timezone.now().date(), model="m", requests=3
    )
    add_member(own, Role.DEVELOPER)
    Invitation.objects.create(
        workspace=own,
        email="someone@example.com",
        role=Role.VIEWER,
        token_hash="a" * 64,
        expires_at=timezone.now() + timedelta(days=7),
    )
    other_owner = UserFactory()
    shared = WorkspaceFactory(owner=other_owner, name="Shared")
    Membership.objects.create(workspace=shared, user=user, role=Role.OWNER)
    shared_key = api_key_row(shared, n=1)
    usage_rows_load(shared, shared_key, 50)
    PrivacySettings.objects.create(user=user, training_opt_out=True)
    ConsentRecord.objects.create(
        user=user, analytics=True, banner_version="1", method="accept", user_agent="Firefox"
    )
    audit_record(action="account.login", actor=user, ip_address="203.0.113.9", user_agent="Firefox")
    return {"user": user, "own": own, "shared": shared, "shared_key": shared_key}


def test_plan_separates_sole_owner_workspaces_from_shared_ones(account):
    plan = account_deletion_plan(user=account["user"])

    assert [w.name for w in plan.deleted] == ["Mine"]
    assert [w.name for w in plan.kept] == ["Shared"]
    assert plan.members_losing_access[account["own"].pk] == 1


def test_request_schedules_the_deletion_after_the_grace_period(account, settings):
    settings.ACCOUNT_DELETION_GRACE_DAYS = 30
    deletion = account_deletion_request(user=account["user"])

    assert deletion.status == DeletionStatus.PENDING
    assert deletion.kind == DeletionKind.ACCOUNT
    assert abs((deletion.scheduled_for - deletion.requested_at) - timedelta(days=30)) < timedelta(
        seconds=1
    )
    assert AuditEvent.objects.filter(action=DeletionAction.ACCOUNT_DELETION_REQUESTED).count() == 1


def test_request_email_explains_what_happens_and_how_to_cancel(
    account, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        deletion = account_deletion_request(user=account["user"])

    body = mail.outbox[-1].body
    assert "Mine" in body and "Shared" in body
    token = re.search(r"/account/delete/cancel/([^/\s]+)/", body).group(1)
    assert deletion_from_cancel_token(token=token).pk == deletion.pk


def test_asking_twice_returns_the_open_deletion(account):
    first = account_deletion_request(user=account["user"])
    second = account_deletion_request(user=account["user"])

    assert first.pk == second.pk
    assert DeletionRequest.objects.count() == 1


def test_job_does_nothing_during_the_grace_period(account):
    deletion = account_deletion_request(user=account["user"])

    assert deletion_run(deletion_id=deletion.pk) == "not_claimed"
    assert User.objects.filter(pk=account["user"].pk).exists()


def test_cancel_during_grace_keeps_everything(account):
    user = account["user"]
    deletion = account_deletion_request(user=user)

    account_deletion_cancel(user=user)
    make_due(deletion)

    deletion.refresh_from_db()
    assert deletion.status == DeletionStatus.CANCELLED
    assert deletion_run(deletion_id=deletion.pk) == "not_claimed"
    assert User.objects.filter(pk=user.pk).exists()
    assert UsageRecord.objects.filter(workspace=account["own"]).count() == 3500


def test_cancel_by_emailed_token(account):
    deletion = account_deletion_request(user=account["user"])

    account_deletion_cancel_by_token(token=deletion_cancel_token(deletion=deletion))

    deletion.refresh_from_db()
    assert deletion.status == DeletionStatus.CANCELLED
    assert AuditEvent.objects.filter(action=DeletionAction.ACCOUNT_DELETION_CANCELLED).exists()


def test_cancel_with_a_forged_token_is_not_found(account):
    account_deletion_request(user=account["user"])

    with pytest.raises(NotFound):
        account_deletion_cancel_by_token(token="forged:token")


def test_cancel_once_running_is_refused(account):
    deletion = account_deletion_request(user=account["user"])
    make_due(deletion)
    assert deletion_claim(deletion_id=deletion.pk, worker="w1")

    with pytest.raises(Conflict):
        account_deletion_cancel(user=account["user"])


def test_job_deletes_the_account_and_its_sole_owner_workspaces(account):
    user, own, shared = account["user"], account["own"], account["shared"]
    deletion = account_deletion_request(user=user)
    make_due(deletion)

    outcomes = run_to_end(deletion.pk)

    assert outcomes[-1] == "completed"
    assert not User.objects.filter(pk=user.pk).exists()
    assert not Workspace.objects.filter(pk=own.pk).exists()
    assert not UsageRecord.objects.filter(workspace_id=own.pk).exists()
    assert not UsageDailyRollup.objects.filter(workspace_id=own.pk).exists()
    assert not ApiKey.objects.filter(workspace_id=own.pk).exists()
    assert not Invitation.objects.filter(workspace_id=own.pk).exists()
    assert not Membership.objects.filter(workspace_id=own.pk).exists()
    assert not EmailAddress.objects.filter(email="leaving@example.com").exists()
    assert not PrivacySettings.objects.filter(user_id=user.pk).exists()
    # The shared workspace keeps its data; only the membership is gone.
    assert Workspace.objects.filter(pk=shared.pk).exists()
    assert UsageRecord.objects.filter(workspace_id=shared.pk).count() == 50
    assert Membership.objects.filter(workspace=shared).count() == 1
    # Proof of consent stays, unlinked.
    consent = ConsentRecord.objects.get()
    assert consent.user_id is None and consent.user_agent == ""
    deletion.refresh_from_db()
    assert deletion.status == DeletionStatus.COMPLETED
    assert deletion.progress["counts"]["apikeys.UsageRecord"] == 3500
    assert deletion.receipt["deleted"]["apikeys.UsageRecord"] == 3500


def test_audit_chain_verifies_after_deletion_with_personal_data_blanked(account):
    user = account["user"]
    deletion = account_deletion_request(user=user)
    make_due(deletion)

    run_to_end(deletion.pk)

    checked, broken = audit_chain_verify()
    assert broken is None and checked > 0
    events = AuditEvent.objects.filter(actor_id=user.pk) | AuditEvent.objects.filter(
        subject_user_id=user.pk
    )
    assert events.exists()
    assert not events.filter(actor_email__isnull=False).exists()
    assert not events.exclude(user_agent="").exists()
    assert not events.filter(ip_address__isnull=False).exists()
    assert AuditEvent.objects.filter(action=DeletionAction.ACCOUNT_DELETED).count() == 1


def test_the_job_takes_the_accounts_workspaces_offline_first(
    account, django_capture_on_commit_callbacks
):
    user, own, shared = account["user"], account["own"], account["shared"]
    _, full_key = api_key_create(
        workspace=own,
        actor=user,
        name="gateway",
        environment=Environment.DEVELOPMENT,
        scopes=["inference"],
    )
    assert verify(full_key).valid
    deletion = account_deletion_request(user=user)
    make_due(deletion)

    # One batch only: the first step, before any data is deleted.
    with django_capture_on_commit_callbacks(execute=True):
        assert deletion_run(deletion_id=deletion.pk, time_budget=0) == "yielded"

    own.refresh_from_db()
    shared.refresh_from_db()
    assert own.deleted_at is not None and shared.deleted_at is None
    assert UsageRecord.objects.filter(workspace=own).exists()
    assert verify(full_key).code == "revoked"
    assert not Invitation.objects.filter(workspace=own).pending().exists()


def test_audit_events_are_erased_in_batches(account, settings):
    settings.DELETION_AUDIT_BATCH_SIZE = 2
    user = account["user"]
    for _ in range(5):
        audit_record(action="account.login", actor=user, ip_address="203.0.113.9", user_agent="UA")
    about_user = AuditEvent.objects.filter(actor_id=user.pk) | AuditEvent.objects.filter(
        subject_user_id=user.pk
    )
    total = about_user.count()
    deletion = account_deletion_request(user=user)
    make_due(deletion)

    run_to_end(deletion.pk)

    deletion.refresh_from_db()
    assert deletion.progress["counts"]["accounts.AuditEvent (personal data erased)"] >= total
    assert not about_user.exclude(user_agent="").exists()
    assert not about_user.filter(ip_address__isnull=False).exists()
    assert audit_chain_verify()[1] is None


def test_receipt_is_queued_before_the_address_is_erased_and_recorded_when_sent(
    account, django_capture_on_commit_callbacks
):
    user = account["user"]
    deletion = account_deletion_request(user=user, send_receipt=True)
    make_due(deletion)
    mail.outbox.clear()

    # The messages that would start sending are lost: the outbox row is what is left.
    with django_capture_on_commit_callbacks(execute=False):
        run_to_end(deletion.pk)

    assert not User.objects.filter(pk=user.pk).exists()
    email = OutboundEmail.objects.get(kind=deletion_module.RECEIPT_EMAIL_KIND)
    assert email.status == OutboundEmailStatus.PENDING
    assert json.loads(email.recipients) == ["leaving@example.com"]
    assert "apikeys.UsageRecord: 3500" in email.body
    assert "Audit events" in email.body
    deletion.refresh_from_db()
    assert deletion.receipt_sent_at is None  # queued is not told

    assert outbound_email_send(email_id=email.pk) is True

    assert [m.subject for m in mail.outbox] == ["Receipt: your Console account has been deleted"]
    assert mail.outbox[0].to == ["leaving@example.com"]
    deletion.refresh_from_db()
    assert deletion.receipt_sent_at is not None


def test_rerunning_a_completed_deletion_is_harmless(account):
    deletion = account_deletion_request(user=account["user"])
    make_due(deletion)
    run_to_end(deletion.pk)
    deletion.refresh_from_db()
    completed_at = deletion.completed_at

    assert deletion_run(deletion_id=deletion.pk) == "not_claimed"

    deletion.refresh_from_db()
    assert deletion.completed_at == completed_at
    assert AuditEvent.objects.filter(action=DeletionAction.ACCOUNT_DELETED).count() == 1


def test_a_job_resumes_from_its_cursor_after_yielding(account):
    deletion = account_deletion_request(user=account["user"])
    make_due(deletion)

    outcomes = run_to_end(deletion.pk, time_budget=0)

    assert outcomes.count("yielded") > 3
    assert outcomes[-1] == "completed"
    deletion.refresh_from_db()
    assert deletion.progress["counts"]["apikeys.UsageRecord"] == 3500
    assert deletion.attempts == len(outcomes)


def test_two_claims_only_one_wins(account):
    deletion = account_deletion_request(user=account["user"])
    make_due(deletion)

    first = deletion_claim(deletion_id=deletion.pk, worker="w1")
    second = deletion_claim(deletion_id=deletion.pk, worker="w2")

    assert (first, second) == (True, False)
    deletion.refresh_from_db()
    assert deletion.claimed_by == "w1"
    # A worker without the claim cannot run a batch either.
    assert deletion_run(deletion_id=deletion.pk, worker="w2") == "not_claimed"


def test_a_stale_claim_can_be_taken_over(account, settings):
    settings.DELETION_CLAIM_STALE_SECONDS = 60
    deletion = account_deletion_request(user=account["user"])
    make_due(deletion)
    assert deletion_claim(deletion_id=deletion.pk, worker="dead")
    DeletionRequest.objects.filter(pk=deletion.pk).update(
        heartbeat_at=timezone.now() - timedelta(seconds=61)
    )

    assert deletion_sweep() == [deletion.pk]
    assert run_to_end(deletion.pk)[-1] == "completed"


def test_sweeper_lists_due_and_released_rows_but_not_live_or_future_ones(account):
    user = account["user"]
    future = account_deletion_request(user=user)
    due = account_deletion_request(user=UserFactory())
    make_due(due)
    live = account_deletion_request(user=UserFactory())
    make_due(live)
    deletion_claim(deletion_id=live.pk, worker="alive")
    released = account_deletion_request(user=UserFactory())
    make_due(released)
    deletion_claim(deletion_id=released.pk, worker="gone")
    DeletionRequest.objects.filter(pk=released.pk).update(claimed_by="")

    ids = deletion_sweep()

    assert set(ids) == {due.pk, released.pk}
    assert future.pk not in ids


def test_workspace_deletion_goes_through_the_ledger(settings):
    settings.WORKSPACE_DELETION_GRACE_DAYS = 0
    settings.DELETION_BATCH_SIZE = 500
    owner = UserFactory()
    workspace = WorkspaceFactory(owner=owner)
    key = api_key_row(workspace)
    usage_rows_load(workspace, key, 1200)
    BudgetAlert.objects.create(
        workspace=workspace,
        api_key=key,
        scope="key",
        period="2026-03",
        threshold_percent=50,
        budget_tokens=100,
        used_tokens=60,
    )

    # Eager Celery in tests: the zero-grace run happens on commit, in-process.
    workspace_delete(workspace=workspace, actor=owner)
    deletion = DeletionRequest.objects.get(kind=DeletionKind.WORKSPACE)
    run_to_end(deletion.pk)

    deletion.refresh_from_db()
    assert deletion.status == DeletionStatus.COMPLETED
    assert not Workspace.objects.filter(pk=workspace.pk).exists()
    assert not UsageRecord.objects.filter(workspace_id=workspace.pk).exists()
    assert not BudgetAlert.objects.exists()
    assert User.objects.filter(pk=owner.pk).exists()


def test_workspace_deletion_has_a_grace_period_by_default(settings):
    settings.WORKSPACE_DELETION_GRACE_DAYS = 14
    owner = UserFactory()
    workspace = WorkspaceFactory(owner=owner)

    workspace_delete(workspace=workspace, actor=owner)

    deletion = DeletionRequest.objects.get(kind=DeletionKind.WORKSPACE)
    assert deletion.status == DeletionStatus.PENDING
    assert deletion.scheduled_for - deletion.requested_at >= timedelta(days=14)
    assert Workspace.objects.filter(pk=workspace.pk).exists()


def test_batches_commit_separately_so_a_failure_keeps_earlier_progress(account, monkeypatch):
    deletion = account_deletion_request(user=account["user"])
    make_due(deletion)
    calls = {"n": 0}
    original = deletion_module.STEP_HANDLERS["bulk"]

    def flaky(step, cursor, limit):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("database went away")
        return original(step, cursor, limit)

    monkeypatch.setitem(deletion_module.STEP_HANDLERS, "bulk", flaky)
    with pytest.raises(RuntimeError):
        deletion_run(deletion_id=deletion.pk)

    deletion.refresh_from_db()
    recorded = deletion.progress["counts"]["apikeys.UsageRecord"]
    left = UsageRecord.objects.filter(workspace_id=account["own"].pk).count()
    # Two batches committed with their progress; the third left nothing behind.
    assert 0 < left < 3500
    assert recorded == 3500 - left
    assert deletion.claimed_by == "" and "database went away" in deletion.last_error
    assert run_to_end(deletion.pk)[-1] == "completed"
    assert not UsageRecord.objects.filter(workspace_id=account["own"].pk).exists()


@pytest.fixture
def exported(account, settings, tmp_path):
    """The leaving user has two finished data exports on disk."""
    from privacy.exports.models import DataExport
    from privacy.exports.services import export_run

    settings.MEDIA_ROOT = tmp_path
    exports = [export_run(export_id=DataExport.objects.create(user=account["user"]).pk)]
    exports.append(export_run(export_id=DataExport.objects.create(user=account["user"]).pk))
    paths = [tmp_path / "exports" / export.file_name for export in exports]
    assert all(path.exists() for path in paths)
    return paths


def test_deleting_the_account_deletes_its_export_files_with_their_rows(account, exported):
    from privacy.exports.models import DataExport

    deletion = account_deletion_request(user=account["user"])
    make_due(deletion)

    assert run_to_end(deletion.pk)[-1] == "completed"

    assert not any(path.exists() for path in exported)
    assert not DataExport.objects.exists()
    deletion.refresh_from_db()
    assert deletion.receipt["deleted"]["privacy.DataExport (files)"] == 2


def test_export_files_go_even_if_the_worker_dies_after_deleting_them(
    account, exported, monkeypatch
):
    from privacy.exports.models import DataExport

    deletion = account_deletion_request(user=account["user"])
    make_due(deletion)
    original = deletion_module.STEP_HANDLERS["hook"]

    def dies_before_commit(step, cursor, limit):
        original(step, cursor, limit)
        raise RuntimeError("worker killed")

    monkeypatch.setitem(deletion_module.STEP_HANDLERS, "hook", dies_before_commit)
    with pytest.raises(RuntimeError):
        deletion_run(deletion_id=deletion.pk)
    # The files went first; the rows' delete was rolled back with the batch.
    assert not any(path.exists() for path in exported)
    assert DataExport.objects.count() == 2

    monkeypatch.setitem(deletion_module.STEP_HANDLERS, "hook", original)
    assert run_to_end(deletion.pk)[-1] == "completed"
    assert not DataExport.objects.exists()
