"""Usage records reported by the gateway and their daily rollups."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from accounts.fields import EncryptedTextField
from accounts.models import Workspace
from apikeys.keys.models import ApiKey


class Moderation(models.TextChoices):
    NONE = "none", "Not flagged"
    FLAGGED = "flagged", "Flagged"
    BLOCKED = "blocked", "Blocked"


class UsageRecord(models.Model):
    """One model request reported by the gateway. Never holds prompt or output content.

    On PostgreSQL the table is range-partitioned by `occurred_at`, one partition a day
    (apikeys/usage/partitions.py). A partitioned table's primary key and unique
    constraints must include the partition key, so the database's primary key is
    (id, occurred_at) and a request is unique per (request_id, occurred_at). Django
    still addresses rows by `id` alone: the identity sequence keeps ids unique, and no
    model points at usage rows. SQLite keeps a plain table with the same constraints.
    """

    id = models.BigAutoField(primary_key=True)
    # Plain foreign keys without ORM cascades matter for bulk deletion: the deletion and
    # retention jobs delete these rows in batches themselves.
    workspace = models.ForeignKey(
        Workspace, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    api_key = models.ForeignKey(
        ApiKey, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    # The gateway's request id; with the time it identifies a request (a replay carries
    # both), see the constraint below.
    request_id = models.CharField(max_length=64)
    occurred_at = models.DateTimeField()
    model = models.CharField(max_length=64)
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    status = models.PositiveSmallIntegerField(default=200)
    latency_ms = models.PositiveIntegerField(default=0)
    moderation = models.CharField(
        max_length=16, choices=Moderation.choices, default=Moderation.NONE
    )
    # Absent when the workspace has zero data retention on.
    client_ip = EncryptedTextField(null=True, blank=True)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-occurred_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["request_id", "occurred_at"], name="usage_request_unique"
            )
        ]
        indexes = [
            models.Index(fields=["workspace", "occurred_at"]),
            models.Index(fields=["api_key", "occurred_at"]),
            # The daily rollup aggregates one day across all workspaces.
            models.Index(fields=["occurred_at"]),
        ]

    def __str__(self) -> str:
        return self.request_id


class RollupMetrics(models.Model):
    """What every rollup row counts: requests, tokens, errors and moderation outcomes."""

    requests = models.PositiveBigIntegerField(default=0)
    input_tokens = models.PositiveBigIntegerField(default=0)
    output_tokens = models.PositiveBigIntegerField(default=0)
    errors = models.PositiveBigIntegerField(default=0)
    flagged = models.PositiveBigIntegerField(default=0)
    blocked = models.PositiveBigIntegerField(default=0)

    class Meta:
        abstract = True


class UsageDailyRollup(RollupMetrics):
    """Requests and tokens per workspace, key, model and day. Holds no personal data."""

    workspace = models.ForeignKey(
        Workspace, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    api_key = models.ForeignKey(
        ApiKey, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    day = models.DateField()
    model = models.CharField(max_length=64)

    class Meta:
        ordering = ["-day"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "api_key", "day", "model"], name="usage_rollup_unique"
            )
        ]
        indexes = [models.Index(fields=["workspace", "day"])]

    def __str__(self) -> str:
        return f"{self.day} {self.model}"


class UsageWorkspaceDailyRollup(RollupMetrics):
    """Requests and tokens per workspace, model and day: the workspace-wide figures of the
    usage page, whose cost must not grow with the number of keys. Holds no personal data.

    Kept current like `UsageDailyRollup`: added to as each batch of events is stored and
    recomputed with it from the raw records.
    """

    workspace = models.ForeignKey(
        Workspace, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    day = models.DateField()
    model = models.CharField(max_length=64)

    class Meta:
        ordering = ["-day"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "day", "model"], name="usage_workspace_rollup_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.model}"


class BudgetAlertScope(models.TextChoices):
    KEY = "key", "API key"
    WORKSPACE = "workspace", "Workspace"


class BudgetAlert(models.Model):
    """One alert threshold of one budget crossed in one month (UTC).

    The row is the proof the alert was sent: it is inserted with a conditional insert in
    the transaction that writes the email to the outbox and records the webhook event,
    and the unique constraints let exactly one such insert succeed per key or workspace,
    month and threshold, however many usage reports cross it at once.
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    api_key = models.ForeignKey(
        ApiKey, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    scope = models.CharField(max_length=16, choices=BudgetAlertScope.choices)
    period = models.CharField(max_length=7, help_text="The month, YYYY-MM (UTC).")
    threshold_percent = models.PositiveSmallIntegerField()
    budget_tokens = models.PositiveBigIntegerField()
    used_tokens = models.PositiveBigIntegerField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["api_key", "period", "threshold_percent"],
                condition=models.Q(scope="key"),
                name="budget_alert_once_per_key",
            ),
            models.UniqueConstraint(
                fields=["workspace", "period", "threshold_percent"],
                condition=models.Q(scope="workspace"),
                name="budget_alert_once_per_workspace",
            ),
            models.CheckConstraint(
                condition=models.Q(scope="key", api_key__isnull=False)
                | models.Q(scope="workspace", api_key__isnull=True),
                name="budget_alert_key_only_for_key_scope",
            ),
        ]
        indexes = [models.Index(fields=["workspace", "period"])]

    def __str__(self) -> str:
        return f"{self.scope} {self.period} {self.threshold_percent}%"
