"""Privacy requests (data subject / consumer requests) and staff notes."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.fields import EncryptedTextField
from privacy.requests.deadlines import Jurisdiction


class RequestType(models.TextChoices):
    ACCESS = "access", "Access: a copy of my data"
    PORTABILITY = "portability", "Portability: my data in a portable format"
    CORRECTION = "correction", "Correction of inaccurate data"
    DELETION = "deletion", "Deletion of my account and data"
    RESTRICTION = "restriction", "Restriction of processing"
    OBJECTION = "objection", "Objection to processing"
    WITHDRAW_CONSENT = "withdraw_consent", "Withdrawal of consent"
    TRAINING_OPT_OUT = "training_opt_out", "Opt out of model training"
    CCPA_KNOW = "ccpa_know", "CCPA: right to know"
    CCPA_DELETE = "ccpa_delete", "CCPA: deletion"
    CCPA_OPT_OUT = "ccpa_opt_out", "CCPA: opt out of sale or sharing"
    CHILD_REPORT = "child_report", "Parent's report: a child under 13 has an account"


class RequestStatus(models.TextChoices):
    UNCONFIRMED = "unconfirmed", "Awaiting email confirmation"
    RECEIVED = "received", "Received"
    VERIFIED = "verified", "Verified"
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETED = "completed", "Completed"
    REJECTED = "rejected", "Rejected"
    CANCELLED = "cancelled", "Cancelled"
    # A public request whose emailed link was never opened: it was never received.
    EXPIRED = "expired", "Expired unconfirmed"


class CloseReason(models.TextChoices):
    """Why a request was closed without its requester or staff closing it."""

    CONFIRMATION_EXPIRED = "confirmation_expired", "The confirmation link was never opened"
    ACCOUNT_DELETED = "account_deleted", "The account was deleted"


OPEN_STATUSES = (RequestStatus.RECEIVED, RequestStatus.VERIFIED, RequestStatus.IN_PROGRESS)
CLOSED_STATUSES = (RequestStatus.COMPLETED, RequestStatus.REJECTED, RequestStatus.CANCELLED)
# Never received: neither in the staff queue nor on the requester's pages.
UNRECEIVED_STATUSES = (RequestStatus.UNCONFIRMED, RequestStatus.EXPIRED)


class PrivacyRequestQuerySet(models.QuerySet):
    def open(self):
        return self.filter(status__in=OPEN_STATUSES)

    def overdue(self, *, today=None):
        today = today or timezone.localdate()
        return self.open().filter(
            models.Q(extended_due_date__isnull=True, due_date__lt=today)
            | models.Q(extended_due_date__lt=today)
        )

    def for_user(self, user):
        return self.filter(user=user).exclude(status__in=UNRECEIVED_STATUSES)


class PrivacyRequest(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    request_type = models.CharField(max_length=32, choices=RequestType.choices)
    jurisdiction = models.CharField(max_length=16, choices=Jurisdiction.choices)
    status = models.CharField(
        max_length=16, choices=RequestStatus.choices, default=RequestStatus.RECEIVED
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="privacy_requests",
    )
    # Personal data of the requester, encrypted at rest.
    email = EncryptedTextField()
    name = EncryptedTextField(blank=True, default="")
    details = EncryptedTextField(blank=True, default="")

    submitted_at = models.DateTimeField(default=timezone.now)
    confirmation_token_hash = models.CharField(max_length=64, blank=True, default="")
    confirmation_expires_at = models.DateTimeField(null=True, blank=True)
    # The legal clock starts at receipt (for public requests: when the email is confirmed).
    received_at = models.DateTimeField(null=True, blank=True)
    acknowledge_by = models.DateField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    due_date = models.DateField(null=True, blank=True)
    extended_due_date = models.DateField(null=True, blank=True)
    extension_reason = models.TextField(blank=True, default="")
    extended_at = models.DateTimeField(null=True, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # When the console's own part was done while processors still owed theirs: the
    # request completes when the last processor action is settled.
    carried_out_at = models.DateTimeField(null=True, blank=True)
    closed_reason = models.CharField(
        max_length=32, choices=CloseReason.choices, blank=True, default=""
    )
    resolution = models.TextField(blank=True, default="")

    # What the request set in motion (ids, not foreign keys: they have their own lives).
    export_id = models.UUIDField(null=True, blank=True)
    deletion_id = models.BigIntegerField(null=True, blank=True)

    due_soon_alert_sent_at = models.DateTimeField(null=True, blank=True)
    overdue_alert_sent_at = models.DateTimeField(null=True, blank=True)

    objects = PrivacyRequestQuerySet.as_manager()

    class Meta:
        ordering = ["-submitted_at"]
        indexes = [
            models.Index(fields=["status", "due_date"]),
            models.Index(fields=["confirmation_token_hash"]),
        ]

    def __str__(self) -> str:
        return f"{self.get_request_type_display()} ({self.get_status_display()})"

    @property
    def effective_due_date(self):
        return self.extended_due_date or self.due_date

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def is_overdue(self) -> bool:
        due = self.effective_due_date
        return bool(self.is_open and due and due < timezone.localdate())


class PrivacyRequestNote(models.Model):
    """A staff note on a request; never shown to the requester."""

    request = models.ForeignKey(PrivacyRequest, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    text = EncryptedTextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"Note on {self.request_id}"
