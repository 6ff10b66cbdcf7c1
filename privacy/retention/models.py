"""Run records of the daily retention jobs."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class RetentionRunStatus(models.TextChoices):
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    COMPLETED_WITH_ERRORS = "errors", "Completed with errors"


class RetentionRun(models.Model):
    """One pass of the retention jobs: what each category purged and what went wrong."""

    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveBigIntegerField(null=True, blank=True)
    status = models.CharField(
        max_length=16, choices=RetentionRunStatus.choices, default=RetentionRunStatus.RUNNING
    )
    # {category: rows purged or anonymised}
    counts = models.JSONField(default=dict, blank=True)
    # [{"category": ..., "error": ...}]
    errors = models.JSONField(default=list, blank=True)
    longest_batch_ms = models.FloatField(default=0)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"Retention run {self.started_at:%Y-%m-%d %H:%M} ({self.status})"
