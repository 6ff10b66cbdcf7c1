"""The deletion ledger: one row per account or workspace deletion.

The row, not the broker message, is the truth: a worker claims it with a conditional
update, records its progress batch by batch, and releases it when its time is up.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import models
from django.utils import timezone


class DeletionKind(models.TextChoices):
    ACCOUNT = "account", "Account"
    WORKSPACE = "workspace", "Workspace"


class DeletionStatus(models.TextChoices):
    PENDING = "pending", "Pending (grace period)"
    CANCELLED = "cancelled", "Cancelled"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"


OPEN_STATUSES = (DeletionStatus.PENDING, DeletionStatus.RUNNING)


class DeletionRequestQuerySet(models.QuerySet):
    def open(self):
        return self.filter(status__in=OPEN_STATUSES)

    def for_account(self, user_id: int):
        return self.filter(kind=DeletionKind.ACCOUNT, target_id=str(user_id))

    def needing_work(self, *, now, stale_after: timedelta):
        """Rows a worker should be running now: due, released, or with a stale claim."""
        return self.filter(
            models.Q(status=DeletionStatus.PENDING, scheduled_for__lte=now)
            | models.Q(status=DeletionStatus.RUNNING, claimed_by="")
            | models.Q(status=DeletionStatus.RUNNING, heartbeat_at__lt=now - stale_after)
        )


class DeletionRequest(models.Model):
    """A scheduled deletion and its progress.

    Plain ids rather than foreign keys: the ledger outlives what it deletes and is the
    proof that the deletion happened.
    """

    id = models.BigAutoField(primary_key=True)
    kind = models.CharField(max_length=16, choices=DeletionKind.choices)
    # The user id (account) or workspace UUID (workspace), as text.
    target_id = models.CharField(max_length=64)
    requested_by_id = models.BigIntegerField(null=True, blank=True)
    requested_at = models.DateTimeField(default=timezone.now)
    scheduled_for = models.DateTimeField()
    status = models.CharField(
        max_length=16, choices=DeletionStatus.choices, default=DeletionStatus.PENDING
    )
    reason = models.CharField(max_length=64, blank=True, default="")
    send_receipt = models.BooleanField(default=True)

    claimed_by = models.CharField(max_length=128, blank=True, default="")
    claimed_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    # {"phase": ..., "step": n, "steps": [...], "cursor": ..., "counts": {label: n}}
    progress = models.JSONField(default=dict, blank=True)
    last_error = models.TextField(blank=True, default="")

    cancelled_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    # What was deleted, what is kept and why; holds no personal data.
    receipt = models.JSONField(default=dict, blank=True)
    receipt_sent_at = models.DateTimeField(null=True, blank=True)

    objects = DeletionRequestQuerySet.as_manager()

    class Meta:
        ordering = ["-requested_at"]
        indexes = [models.Index(fields=["status", "scheduled_for"])]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "target_id"],
                condition=models.Q(status__in=["pending", "running"]),
                name="deletion_one_open_per_target",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.target_id} ({self.status})"
