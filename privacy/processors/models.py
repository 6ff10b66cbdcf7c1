"""Processors: the services outside the console that hold personal data (the gateway's
usage logs, the abuse-monitoring store, ...) and must carry out privacy requests too.

A `Processor` is registered by Privacy staff. Every confirmed request of a kind it
handles becomes one `ProcessorAction`: the processor is sent a signed message with the
identifiers it needs, and answers through the callback API (received, completed,
refused). The request completes only when every action is settled.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from accounts.fields import EncryptedTextField


class ProcessorRequestKind(models.TextChoices):
    """What a processor is asked to do; the console's request types map onto these."""

    ERASURE = "erasure", "Erasure"
    ACCESS = "access", "Access"
    OPT_OUT = "opt_out", "Opt-out"
    RESTRICTION = "restriction", "Restriction of processing"
    CONSENT_WITHDRAWAL = "consent_withdrawal", "Consent withdrawal"


class SubjectIdentifier(models.TextChoices):
    """The identifiers of the data subject a processor may be sent."""

    ACCOUNT_ID = "account_id", "Account id"
    EMAIL = "email", "Email address"
    WORKSPACE_IDS = "workspace_ids", "Workspace ids"
    API_KEY_IDS = "api_key_ids", "API key public ids"


class ProcessorQuerySet(models.QuerySet):
    def active(self):
        return self.filter(disabled_at__isnull=True)

    def handling(self, kind: str) -> list[Processor]:
        # Few rows; filtered here so that SQLite (the embedded default) works too.
        return [p for p in self.active().order_by("pk") if kind in (p.request_kinds or [])]


class Processor(models.Model):
    name = models.CharField(max_length=100, unique=True)
    purpose = models.TextField(max_length=1000)
    url = models.URLField(max_length=2000)
    request_kinds = models.JSONField(default=list)
    identifiers = models.JSONField(default=list)
    # Where its messages go: a system endpoint (no workspace) of the outbound webhook
    # mechanism, which holds the URL as delivered to and the signing secret (encrypted,
    # with the previous one overlapping after a rotation).
    webhook_endpoint = models.OneToOneField(
        "webhooks.WebhookEndpoint",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="processor",
    )
    # The processor's callback token: a public id to find it, and only a keyed hash of
    # its secret (like API keys).
    token_public_id = models.CharField(max_length=24, unique=True)
    token_hash = models.CharField(max_length=64)
    token_pepper_id = models.CharField(max_length=32)
    token_rotated_at = models.DateTimeField(null=True, blank=True)
    secret_rotated_at = models.DateTimeField(null=True, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = ProcessorQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ActionState(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    RECEIVED = "received", "Received"
    COMPLETED = "completed", "Completed"
    REFUSED = "refused", "Refused"
    OVERRIDDEN = "overridden", "Overridden by staff"
    CANCELLED = "cancelled", "Cancelled"


# Still owed by the processor; a refusal waits for staff (override or reject the request).
OUTSTANDING_STATES = (
    ActionState.PENDING,
    ActionState.SENT,
    ActionState.RECEIVED,
    ActionState.REFUSED,
)
# The processor can still answer these.
OPEN_STATES = (ActionState.PENDING, ActionState.SENT, ActionState.RECEIVED)
SETTLED_STATES = (ActionState.COMPLETED, ActionState.OVERRIDDEN, ActionState.CANCELLED)


class ProcessorActionQuerySet(models.QuerySet):
    def outstanding(self):
        return self.filter(state__in=OUTSTANDING_STATES)

    def for_request(self, privacy_request_id):
        return self.filter(privacy_request_id=privacy_request_id)


class ProcessorAction(models.Model):
    """One privacy request (or account deletion) carried to one processor."""

    id = models.BigAutoField(primary_key=True)
    # What the processor sees in the callback URL: random, never guessable.
    public_id = models.CharField(max_length=40, unique=True)
    processor = models.ForeignKey(Processor, on_delete=models.PROTECT, related_name="actions")
    kind = models.CharField(max_length=24, choices=ProcessorRequestKind.choices)
    # What set it in motion (ids, not foreign keys: the ledger and the request have
    # their own lives, and the actions are the proof that processors were told).
    privacy_request_id = models.UUIDField(null=True, blank=True, db_index=True)
    deletion_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    subject_user_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    # The identifiers sent (JSON), encrypted; erased once the action is settled.
    identifiers = EncryptedTextField(blank=True, default="")
    state = models.CharField(max_length=16, choices=ActionState.choices, default="pending")
    created_at = models.DateTimeField(default=timezone.now)
    # Held back until the account deletion's grace period is over.
    hold_until_deletion = models.BooleanField(default=False)
    sent_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    result = models.CharField(max_length=500, blank=True, default="")
    reason = models.CharField(max_length=1000, blank=True, default="")
    overridden_by_id = models.BigIntegerField(null=True, blank=True)
    message_id = models.CharField(max_length=64, blank=True, default="")
    reminders_sent = models.PositiveIntegerField(default=0)
    last_reminded_at = models.DateTimeField(null=True, blank=True)

    objects = ProcessorActionQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["state", "sent_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for {self.processor_id} ({self.state})"

    @property
    def is_outstanding(self) -> bool:
        return self.state in OUTSTANDING_STATES
