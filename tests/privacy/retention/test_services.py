"""The retention registry and the daily retention run."""

from datetime import timedelta

import pytest
from django.apps import apps
from django.utils import timezone

from accounts.models import Invitation, User
from accounts.permissions import Role
from apikeys.usage.models import UsageRecord
from privacy.deletion.models import DeletionRequest
from privacy.retention.models import RetentionRun, RetentionRunStatus
from privacy.retention.services import (
    RETENTION,
    BatchStats,
    retention_overview,
    retention_rule,
    retention_run,
)
from tests.factories import UserFactory, WorkspaceFactory, api_key_row, usage_rows_load


def test_every_installed_model_has_a_retention_category():
    labels = {m._meta.label for m in apps.get_models(include_auto_created=True)}

    missing = sorted(labels - set(RETENTION))

    assert missing == [], f"declare retention for: {', '.join(missing)}"


def test_every_rule_names_a_category_and_a_period():
    for label, rule in RETENTION.items():
        assert rule.category and rule.period, label


def test_settings_override_a_period_at_call_time(settings):
    settings.RETENTION_OVERRIDES = {"accounts.Invitation": {"days": 10}}

    assert retention_rule("accounts.Invitation").days == 10


@pytest.mark.django_db
def test_usage_purge_follows_each_workspaces_own_retention(settings):
    settings.RETENTION_BATCH_SIZE = 100
    now = timezone.now()
    short = WorkspaceFactory(name="Thirty")
    long = WorkspaceFactory(name="Ninety")
    short.usage_retention_days = 30
    short.save()
    long.usage_retention_days = 90
    long.save()
    # Per workspace: 250 rows each 100, 60 and 1 day old, stored in arrival (time) order.
    keys = [api_key_row(workspace, n=n + 1) for n, workspace in enumerate((short, long))]
    for age in (100, 60, 1):
        for workspace, key in zip((short, long), keys, strict=True):
            _load(workspace, key, 250, now - timedelta(days=age), f"{age}")

    run = retention_run(now=now)

    assert run.status == RetentionRunStatus.COMPLETED
    assert run.counts["api_usage"] == 250 * 2 + 250
    assert UsageRecord.objects.filter(workspace=short).count() == 250
    assert UsageRecord.objects.filter(workspace=long).count() == 500
    assert not UsageRecord.objects.filter(
        workspace=long, occurred_at__lt=now - timedelta(days=90)
    ).exists()
    assert run.longest_batch_ms > 0 and run.duration_ms is not None


def _load(workspace, key, count, start, tag):
    UsageRecord.objects.bulk_create(
        UsageRecord(
            workspace=workspace,
            api_key=key,
            request_id=f"{workspace.pk.hex}-{tag}-{i}",
            occurred_at=start + timedelta(seconds=i),
            model="m",
        )
        for i in range(count)
    )


@pytest.fixture
def expired_usage():
    """A 30-day workspace with 20,000 rows 40 days old and 100 from yesterday."""
    now = timezone.now()
    workspace = WorkspaceFactory()
    workspace.usage_retention_days = 30
    workspace.save()
    key = api_key_row(workspace)
    usage_rows_load(workspace, key, 20_000, start=now - timedelta(days=40))
    usage_rows_load(workspace, api_key_row(workspace, n=1), 100, start=now - timedelta(days=1))
    return workspace, now


def _purge(now, stats):
    rule = retention_rule("apikeys.UsageRecord")
    return rule.purge(label="apikeys.UsageRecord", rule=rule, now=now, stats=stats)


@pytest.mark.django_db
def test_usage_ranges_grow_while_they_are_fast(expired_usage, settings):
    settings.RETENTION_BATCH_SIZE = 500
    settings.RETENTION_BATCH_TARGET_MS = 60_000  # out of reach: every range doubles
    workspace, now = expired_usage
    stats = BatchStats()

    assert _purge(now, stats) == 20_000

    # Fixed ranges of 500 ids would take 40 batches; doubling ranges take far fewer.
    assert stats.batches < 15
    assert UsageRecord.objects.filter(workspace=workspace).count() == 100


@pytest.mark.django_db
def test_a_usage_range_over_the_time_limit_is_retried_smaller(expired_usage, settings):
    # No delete of 20,000 rows finishes within a millisecond; a range of a few does.
    settings.RETENTION_BATCH_SIZE = 100_000
    settings.RETENTION_STATEMENT_TIMEOUT_MS = 1
    workspace, now = expired_usage
    stats = BatchStats()

    assert _purge(now, stats) == 20_000

    assert stats.timeouts >= 1
    assert UsageRecord.objects.filter(workspace=workspace).count() == 100


@pytest.mark.django_db
def test_expired_invitations_are_purged_after_thirty_days():
    now = timezone.now()
    workspace = WorkspaceFactory()
    old = Invitation.objects.create(
        workspace=workspace,
        email="old@example.com",
        role=Role.VIEWER,
        token_hash="o" * 64,
        expires_at=now - timedelta(days=31),
    )
    recent = Invitation.objects.create(
        workspace=workspace,
        email="recent@example.com",
        role=Role.VIEWER,
        token_hash="r" * 64,
        expires_at=now - timedelta(days=5),
    )

    run = retention_run(now=now)

    assert not Invitation.objects.filter(pk=old.pk).exists()
    assert Invitation.objects.filter(pk=recent.pk).exists()
    assert run.counts["invitations"] == 1


@pytest.mark.django_db
def test_unverified_signups_are_deleted_after_thirty_days(django_capture_on_commit_callbacks):
    now = timezone.now()
    stale = UserFactory(verified=False)
    User.objects.filter(pk=stale.pk).update(date_joined=now - timedelta(days=31))
    fresh = UserFactory(verified=False)
    verified = UserFactory()
    User.objects.filter(pk=verified.pk).update(date_joined=now - timedelta(days=400))

    with django_capture_on_commit_callbacks(execute=True):
        run = retention_run(now=now)

    # Scheduled with no grace; eager Celery in tests runs the deletion on commit.
    assert run.counts["account"] == 1
    assert not User.objects.filter(pk=stale.pk).exists()
    assert User.objects.filter(pk__in=[fresh.pk, verified.pk]).count() == 2
    assert DeletionRequest.objects.get().reason == "unverified_signup"


@pytest.mark.django_db
def test_a_failing_category_is_recorded_and_the_run_goes_on(monkeypatch):
    from privacy.retention import services as retention

    def broken(**kwargs):
        raise RuntimeError("disk on fire")

    rule = retention.RETENTION["accounts.Invitation"]
    monkeypatch.setitem(
        retention.RETENTION, "accounts.Invitation", retention.replace(rule, purge=broken)
    )

    run = retention_run()

    assert run.status == RetentionRunStatus.COMPLETED_WITH_ERRORS
    assert run.errors[0]["category"] == "invitations"
    assert "disk on fire" in run.errors[0]["error"]
    assert "api_usage" in run.counts
    assert RetentionRun.objects.count() == 1


@pytest.mark.django_db
def test_overview_flags_usage_older_than_its_workspace_period():
    now = timezone.now()
    workspace = WorkspaceFactory()
    _load(workspace, api_key_row(workspace), 3, now - timedelta(days=45), "old")

    rows = {row["label"]: row for row in retention_overview(now=now)}

    assert rows["apikeys.UsageRecord"]["overdue"] is True
    assert rows["apikeys.UsageRecord"]["days"] == 30
    assert rows["accounts.AuditEvent"]["category"] == "audit"
