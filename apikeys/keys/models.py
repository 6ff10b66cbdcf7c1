"""Workspace-scoped API keys."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.fields import EncryptedTextField
from accounts.models import Workspace, budget_alert_thresholds_default
from apikeys.keys.tokens import Environment, display


class ApiKeyQuerySet(models.QuerySet):
    def visible(self):
        """Keys not deleted (deleted keys are revoked and hidden; the audit log keeps them)."""
        return self.filter(deleted_at__isnull=True)

    def active(self, *, now=None):
        now = now or timezone.now()
        return self.visible().filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now),
            revoked_at__isnull=True,
        )

    def for_workspace(self, workspace):
        return self.filter(workspace=workspace)

    def revoked(self):
        return self.visible().filter(revoked_at__isnull=False)

    def expired(self, *, now=None):
        now = now or timezone.now()
        return self.visible().filter(revoked_at__isnull=True, expires_at__lte=now)

    def unused_since(self, when):
        """Keys last used before `when`, or never used and created before it."""
        return self.filter(
            models.Q(last_used_at__lt=when)
            | models.Q(last_used_at__isnull=True, created_at__lt=when)
        )


class ApiKey(models.Model):
    """A workspace-scoped key. Only a keyed hash of the secret is stored.

    The full key is `<prefix><public_id>_<secret><checksum>` and is shown exactly once.
    During a rotation grace period the previous secret's hash still verifies until
    `previous_secret_expires_at`.
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="api_keys")
    public_id = models.CharField(max_length=24, unique=True)
    name = models.CharField(max_length=100)
    environment = models.CharField(max_length=16, choices=Environment.choices)
    scopes = models.JSONField(default=list)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=64, blank=True, default="")
    deleted_at = models.DateTimeField(null=True, blank=True)

    # The secret: HMAC-SHA256(pepper[pepper_id], secret), hex. Never the secret itself.
    secret_hash = models.CharField(max_length=64)
    pepper_id = models.CharField(max_length=32)
    last_four = models.CharField(max_length=4)
    # Rotation: the previous secret keeps verifying until previous_secret_expires_at.
    previous_secret_hash = models.CharField(max_length=64, blank=True, default="")
    previous_pepper_id = models.CharField(max_length=32, blank=True, default="")
    previous_last_four = models.CharField(max_length=4, blank=True, default="")
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    previous_secret_last_used_at = models.DateTimeField(null=True, blank=True)
    rotated_at = models.DateTimeField(null=True, blank=True)

    # Restrictions and limits, enforced at verify.
    allowed_ips = models.JSONField(default=list, blank=True)
    max_tokens_per_request = models.PositiveIntegerField(null=True, blank=True)
    requests_per_minute = models.PositiveIntegerField(null=True, blank=True)
    tokens_per_minute = models.PositiveIntegerField(null=True, blank=True)
    monthly_token_budget = models.PositiveBigIntegerField(null=True, blank=True)
    # Percentages of the key's budget at which owners and admins are told, once per month.
    budget_alert_thresholds = models.JSONField(default=budget_alert_thresholds_default)

    # Written in batches from the Redis buffer, never per verify call.
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_used_ip = EncryptedTextField(null=True, blank=True)

    # Raised (never lowered) in the same transaction as every change verify must see:
    # the key's own, its workspace's and its owners' data-handling choices. Redis holds
    # a copy that verify's caches are checked against; a copy that is missing or lower
    # (Redis lost its data) means "reload", so a lost Redis can never revive a record.
    generation = models.PositiveBigIntegerField(default=1, editable=False)

    expiry_notice_7d_sent_at = models.DateTimeField(null=True, blank=True)
    expiry_notice_1d_sent_at = models.DateTimeField(null=True, blank=True)

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["workspace", "-created_at"]),
            models.Index(fields=["workspace", "last_used_at"]),
            # Pages of keys by name (usage per key): read in order, never sorted whole.
            models.Index(fields=["workspace", "name", "public_id"], name="apikey_workspace_name"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.public_id})"

    @property
    def display(self) -> str:
        """What the console shows after creation: prefix, public id and last four."""
        return display(
            environment=self.environment, public_id=self.public_id, last_four=self.last_four
        )

    @property
    def status(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= timezone.now():
            return "expired"
        return "active"

    @property
    def in_grace(self) -> bool:
        """Whether the previous secret still verifies (rotation grace period)."""
        expires = self.previous_secret_expires_at
        return expires is not None and expires > timezone.now() and self.revoked_at is None

    @property
    def is_unused(self) -> bool:
        """Not used for 90 days (or never, 90 days after creation)."""
        reference = self.last_used_at or self.created_at
        return reference <= timezone.now() - timedelta(days=90)
