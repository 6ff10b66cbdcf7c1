"""Support requests: a thread of messages between a person and support staff.

The requester's words, name and address are personal data, encrypted at rest. Staff
notes are messages marked internal and are never shown to the requester. Attachment
files live on disk, encrypted, named after their row, which owns them.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.fields import EncryptedTextField


class Category(models.TextChoices):
    ACCOUNT = "account", "Account and sign-in"
    API_KEYS = "api_keys", "API keys and usage"
    BILLING = "billing", "Billing"
    PRIVACY = "privacy", "Privacy"
    ABUSE = "abuse", "Abuse or security report"
    OTHER = "other", "Other"


class Status(models.TextChoices):
    # A public request whose emailed link was not opened yet: staff never see it.
    UNCONFIRMED = "unconfirmed", "Awaiting email confirmation"
    OPEN = "open", "Open"
    WAITING = "waiting", "Waiting on you"
    ANSWERED = "answered", "Answered"
    CLOSED = "closed", "Closed"
    # A public request whose link was never opened: it never reached staff.
    EXPIRED = "expired", "Expired unconfirmed"


class Channel(models.TextChoices):
    ACCOUNT = "account", "Signed in"
    PUBLIC = "public", "Public form (could not sign in)"


class PublicReason(models.TextChoices):
    LOCKED_OUT = "locked_out", "I am locked out of my account"
    LOST_MFA = "lost_mfa", "I lost my two-factor device and recovery codes"
    OTHER = "other", "Something else stops me from signing in"


ACTIVE_STATUSES = (Status.OPEN, Status.WAITING, Status.ANSWERED)
UNRECEIVED_STATUSES = (Status.UNCONFIRMED, Status.EXPIRED)


class SupportRequestQuerySet(models.QuerySet):
    def received(self):
        return self.exclude(status__in=UNRECEIVED_STATUSES)

    def active(self):
        return self.filter(status__in=ACTIVE_STATUSES)

    def for_user(self, user):
        return self.filter(user=user).received()

    def waiting_on_staff(self):
        return self.filter(status=Status.OPEN)


class SupportRequest(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="support_requests",
    )
    channel = models.CharField(max_length=16, choices=Channel.choices, default=Channel.ACCOUNT)
    public_reason = models.CharField(
        max_length=16, choices=PublicReason.choices, blank=True, default=""
    )
    # Personal data of the requester, encrypted at rest.
    email = EncryptedTextField(blank=True, default="")
    name = EncryptedTextField(blank=True, default="")
    subject = EncryptedTextField()
    category = models.CharField(max_length=16, choices=Category.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    # Chosen from the requester's own workspaces and keys, never typed.
    workspace = models.ForeignKey(
        "accounts.Workspace", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    api_key = models.ForeignKey(
        "apikeys.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_support_requests",
    )

    created_at = models.DateTimeField(default=timezone.now)
    # When the request reached staff (for public requests: when the address was confirmed).
    received_at = models.DateTimeField(null=True, blank=True)
    first_response_at = models.DateTimeField(null=True, blank=True)
    # Since when the request waits on staff (the requester wrote last); null otherwise.
    waiting_since = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)

    confirmation_token_hash = models.CharField(max_length=64, blank=True, default="")
    confirmation_expires_at = models.DateTimeField(null=True, blank=True)

    # Staff reminders about the targets, each sent once.
    response_due_soon_sent_at = models.DateTimeField(null=True, blank=True)
    response_overdue_sent_at = models.DateTimeField(null=True, blank=True)
    resolution_due_soon_sent_at = models.DateTimeField(null=True, blank=True)
    resolution_overdue_sent_at = models.DateTimeField(null=True, blank=True)

    objects = SupportRequestQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "received_at"]),
            models.Index(fields=["confirmation_token_hash"]),
            models.Index(fields=["closed_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.get_category_display()} ({self.get_status_display()})"

    @property
    def is_closed(self) -> bool:
        return self.status == Status.CLOSED


class SupportMessage(models.Model):
    """One message of a thread: the requester's, a staff reply, or an internal note."""

    request = models.ForeignKey(SupportRequest, on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    from_staff = models.BooleanField(default=False)
    # A staff note: never shown to the requester, never exported to them, never emailed.
    internal = models.BooleanField(default=False)
    body = EncryptedTextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"Message on {self.request_id}"


class SupportAttachment(models.Model):
    """A file attached to a message. The file, encrypted, is `<MEDIA_ROOT>/support/<id>`."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    request = models.ForeignKey(
        SupportRequest, on_delete=models.CASCADE, related_name="attachments"
    )
    message = models.ForeignKey(
        SupportMessage, on_delete=models.CASCADE, related_name="attachments"
    )
    file_name = EncryptedTextField()
    content_type = models.CharField(max_length=64)
    size = models.PositiveIntegerField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"Attachment {self.pk}"
