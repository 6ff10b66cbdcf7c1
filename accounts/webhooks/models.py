"""Webhook endpoints, the messages recorded for them and every delivery attempt.

The message row is the truth, the broker message only a courier (see
accounts.webhooks.delivery): a message is written in the transaction of the change it
describes and delivered from here, at least once, with the same `webhook-id` every time.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.fields import EncryptedTextField

URL_MAX_LENGTH = 2000
DESCRIPTION_MAX_LENGTH = 200
EXCERPT_MAX_LENGTH = 500


def webhook_message_id() -> str:
    """A new Standard Webhooks message id: `msg_` and 32 hex digits."""
    return f"msg_{uuid.uuid4().hex}"


class WebhookEndpointQuerySet(models.QuerySet):
    def enabled(self):
        return self.filter(disabled_at__isnull=True)

    def subscribed_to(self, event_type: str):
        return self.filter(event_types__contains=[event_type])


class WebhookEndpoint(models.Model):
    """A receiver of signed webhooks: a workspace's, or the system's (no workspace).

    System endpoints (privacy processors) belong to the feature that registers them and
    are never listed to a workspace. The signing secret is encrypted at rest; after a
    rotation the previous one keeps signing beside it until `previous_secret_expires_at`.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(
        "accounts.Workspace",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="webhook_endpoints",
    )
    url = models.CharField(max_length=URL_MAX_LENGTH)
    description = models.CharField(max_length=DESCRIPTION_MAX_LENGTH, blank=True, default="")
    event_types = models.JSONField(default=list, blank=True)
    secret = EncryptedTextField()
    previous_secret = EncryptedTextField(null=True, blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=200, blank=True, default="")
    # The first failed attempt since the last delivered one; None while deliveries succeed.
    failing_since = models.DateTimeField(null=True, blank=True)

    objects = WebhookEndpointQuerySet.as_manager()

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["workspace", "created_at"], name="webhook_endpoint_ws")]

    def __str__(self) -> str:
        return f"Webhook endpoint {self.pk}"

    @property
    def enabled(self) -> bool:
        return self.disabled_at is None

    def signing_secrets(self, *, now=None) -> list[str]:
        """The secrets that sign now: the current one, and the previous during its overlap."""
        now = now or timezone.now()
        secrets = [self.secret]
        if (
            self.previous_secret
            and self.previous_secret_expires_at is not None
            and self.previous_secret_expires_at > now
        ):
            secrets.append(self.previous_secret)
        return secrets


class WebhookMessageStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"


class WebhookMessageQuerySet(models.QuerySet):
    def due(self, *, now):
        """Messages a sweep should queue again: waiting past their time, or a lapsed claim."""
        return self.filter(
            models.Q(status=WebhookMessageStatus.PENDING, next_attempt_at__lte=now)
            | models.Q(status=WebhookMessageStatus.SENDING, claimed_until__lt=now)
        )


class WebhookMessage(models.Model):
    """One event for one endpoint. Its id is the `webhook-id` of every attempt and resend."""

    id = models.CharField(
        primary_key=True, max_length=40, default=webhook_message_id, editable=False
    )
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="messages")
    event_type = models.CharField(max_length=100)
    # The envelope as sent: {"type", "timestamp", "schema_version", "data"}.
    payload = models.JSONField()
    status = models.CharField(
        max_length=16, choices=WebhookMessageStatus.choices, default=WebhookMessageStatus.PENDING
    )
    created_at = models.DateTimeField(default=timezone.now)
    # Every attempt ever made, and those since the message was recorded or resent (the
    # backoff schedule counts the latter).
    attempts = models.PositiveIntegerField(default=0)
    round_attempts = models.PositiveIntegerField(default=0)
    # When the message is next due; the sweep queues it again from then on.
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claimed_until = models.DateTimeField(null=True, blank=True)
    claim_token = models.CharField(max_length=32, blank=True, default="")
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=200, blank=True, default="")

    objects = WebhookMessageQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="webhook_message_due"),
            models.Index(fields=["endpoint", "-created_at"], name="webhook_message_endpoint"),
        ]

    def __str__(self) -> str:
        return f"{self.id} ({self.event_type}, {self.status})"


class WebhookAttempt(models.Model):
    """One delivery attempt of a message: the delivery log row."""

    message = models.ForeignKey(WebhookMessage, on_delete=models.CASCADE, related_name="log")
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveIntegerField()
    attempted_at = models.DateTimeField(default=timezone.now)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(default=0)
    succeeded = models.BooleanField(default=False)
    response_excerpt = models.CharField(max_length=EXCERPT_MAX_LENGTH, blank=True, default="")
    error = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        ordering = ["-attempted_at", "-id"]
        indexes = [
            models.Index(fields=["endpoint", "-attempted_at"], name="webhook_attempt_endpoint")
        ]

    def __str__(self) -> str:
        return f"attempt {self.number} of {self.message_id}"
