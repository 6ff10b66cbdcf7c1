"""Identity and tenancy: users, workspaces, memberships, invitations and the audit log."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from accounts.fields import EncryptedTextField
from accounts.permissions import Role
from accounts.validators import email_normalise


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email, password, **extra_fields):
        if not email:
            raise ValueError("An email address is required.")
        # The same spelling sign-up uses, so `createsuperuser` cannot make a second
        # account for a mailbox either.
        user = self.model(email=email_normalise(email), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra_fields)


class User(AbstractBaseUser, PermissionsMixin):
    """A person. The email is the login; the name is encrypted at rest."""

    email = models.EmailField("email address", unique=True)
    name = EncryptedTextField(blank=True, default="")
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)
    age_confirmed_at = models.DateTimeField(null=True, blank=True)
    marketing_emails = models.BooleanField(
        default=False, help_text="Non-essential product news. Security mail is always sent."
    )

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["email"]
        # Granted to the Security staff role; the admin actions call
        # user_sessions_end_by_staff and user_mfa_remove_by_staff.
        permissions = [
            ("end_sessions", "Can end all sessions of an account"),
            ("remove_mfa", "Can remove the second factor of an account"),
        ]

    def __str__(self) -> str:
        return self.email

    def get_full_name(self) -> str:
        return self.name or self.email

    def get_short_name(self) -> str:
        return (self.name or self.email).split(" ")[0]


class WorkspaceQuerySet(models.QuerySet):
    def alive(self):
        return self.filter(deleted_at__isnull=True)

    def for_user(self, user):
        return self.alive().filter(memberships__user=user)


BUDGET_ALERT_THRESHOLDS_DEFAULT = (50, 80, 100)
BUDGET_ALERT_THRESHOLDS_MAX = 5
WORKSPACE_BUDGET_MAX = 10**15


def budget_alert_thresholds_default() -> list[int]:
    return list(BUDGET_ALERT_THRESHOLDS_DEFAULT)


class Workspace(models.Model):
    """A tenant. Every tenant query filters by workspace."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100)
    is_personal = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now)
    deleted_at = models.DateTimeField(null=True, blank=True)
    # Data-handling settings used by API key verification and retention.
    usage_retention_days = models.PositiveSmallIntegerField(
        default=30, validators=[MinValueValidator(30), MaxValueValidator(90)]
    )
    zero_data_retention = models.BooleanField(default=False)
    training_opt_out = models.BooleanField(default=False)
    max_key_lifetime_days = models.PositiveIntegerField(null=True, blank=True)
    # Tokens all of the workspace's keys may use per calendar month (UTC), enforced by
    # verify besides each key's own budget; None: no workspace budget.
    monthly_token_budget = models.PositiveBigIntegerField(null=True, blank=True)
    # Percentages of a budget at which owners and admins are told, once each per month.
    budget_alert_thresholds = models.JSONField(default=budget_alert_thresholds_default)

    objects = WorkspaceQuerySet.as_manager()

    class Meta:
        ordering = ["name", "created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(usage_retention_days__gte=30)
                & models.Q(usage_retention_days__lte=90),
                name="workspace_usage_retention_30_90",
            )
        ]

    def __str__(self) -> str:
        return self.name


class MembershipQuerySet(models.QuerySet):
    def owners(self):
        return self.filter(role=Role.OWNER)

    def of_user(self, user):
        """The user's memberships of workspaces that are not deleted, with the workspace."""
        return self.filter(user=user, workspace__deleted_at__isnull=True).select_related(
            "workspace"
        )


class Membership(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(default=timezone.now)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "user"], name="membership_unique_user")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.workspace_id} as {self.role}"


class InvitationQuerySet(models.QuerySet):
    def pending(self, *, now=None):
        now = now or timezone.now()
        return self.filter(accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=now)


class Invitation(models.Model):
    """An invitation to a workspace. Only a hash of the token is stored."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=16, choices=Role.choices)
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = InvitationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["email"])]

    def __str__(self) -> str:
        return f"{self.email} → {self.workspace_id}"

    @property
    def status(self) -> str:
        if self.accepted_at:
            return "accepted"
        if self.revoked_at:
            return "revoked"
        if self.expires_at <= timezone.now():
            return "expired"
        return "pending"


class AuditEvent(models.Model):
    """One security-relevant action. Append-only and hash-chained with a secret key.

    `entry_hash` = HMAC-SHA256(key `chain_key_id`, previous entry_hash || canonical
    content); events chained before the chain was keyed carry the key id "legacy" and a
    plain SHA-256 (accounts/audit.py). The personal fields (`ip_address`, `user_agent`,
    `actor_email`) are outside the hashed content so they can be erased, and re-encrypted
    under a new key, without breaking the chain; the database refuses every other update
    and every delete (see the migrations that install the triggers).
    """

    id = models.BigAutoField(primary_key=True)
    occurred_at = models.DateTimeField(default=timezone.now, db_index=True)
    action = models.CharField(max_length=64, db_index=True)
    # Plain ids, not foreign keys: deleting a user or workspace must not rewrite history.
    actor_id = models.BigIntegerField(null=True, blank=True)
    workspace_id = models.UUIDField(null=True, blank=True, db_index=True)
    subject_user_id = models.BigIntegerField(
        null=True, blank=True, help_text="The account the event is about."
    )
    target_type = models.CharField(max_length=64, blank=True, default="")
    target_id = models.CharField(max_length=64, blank=True, default="")
    metadata = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    entry_hash = models.CharField(max_length=64, unique=True)
    chain_key_id = models.CharField(
        max_length=32, help_text="Id of the AUDIT_CHAIN_KEYS key this event was chained with."
    )
    # Personal data, outside the hash, erasable (to NULL).
    actor_email = EncryptedTextField(null=True, blank=True)
    ip_address = EncryptedTextField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True, default="")

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["workspace_id", "-occurred_at"]),
            # A person's events in id order: erasure walks them in batches from here.
            models.Index(fields=["actor_id", "id"]),
            models.Index(fields=["subject_user_id", "id"]),
        ]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M:%S} {self.action}"


class OutboundEmailStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class OutboundEmailQuerySet(models.QuerySet):
    def due(self, *, now):
        """Rows a sweep should queue again: waiting past their time, or a lapsed lease."""
        return self.filter(
            models.Q(status=OutboundEmailStatus.PENDING, next_attempt_at__lte=now)
            | models.Q(status=OutboundEmailStatus.SENDING, claimed_until__lt=now)
        )


class OutboundEmail(models.Model):
    """One email in the outbox: written with the change that causes it, sent from here.

    The row, not the broker message, is the truth (see accounts.emails). Subject, body
    and recipients carry one-time links and personal data, so they are encrypted at
    rest; `kind` and `ref` say which "on sent" hook to call and with what, and hold no
    personal data.
    """

    kind = models.CharField(max_length=64, blank=True, default="")
    ref = models.CharField(max_length=64, blank=True, default="")
    status = models.CharField(
        max_length=16, choices=OutboundEmailStatus.choices, default=OutboundEmailStatus.PENDING
    )
    recipients = EncryptedTextField()  # a JSON list of addresses
    subject = EncryptedTextField()
    body = EncryptedTextField()
    created_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveIntegerField(default=0)
    # When the sweep may queue the row again (the first message is given time to arrive).
    next_attempt_at = models.DateTimeField(default=timezone.now)
    # The lease of the worker sending it; after it lapses another worker may send it.
    claimed_until = models.DateTimeField(null=True, blank=True)
    claim_token = models.CharField(max_length=32, blank=True, default="")
    sent_at = models.DateTimeField(null=True, blank=True)
    # The exception class of the last failure only: messages may quote addresses.
    last_error = models.CharField(max_length=200, blank=True, default="")

    objects = OutboundEmailQuerySet.as_manager()

    class Meta:
        verbose_name = "outbound email"
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="outbound_email_due"),
            models.Index(fields=["status", "sent_at"], name="outbound_email_sent"),
        ]

    def __str__(self) -> str:
        return f"Email {self.pk} ({self.kind or 'plain'}, {self.status})"


class AuditCheckpoint(models.Model):
    """The audit chain's head at one moment, kept apart from the chain. Append-only.

    Deleting the newest events leaves a chain that still links; a checkpoint names the
    last event, the count up to it and its hash, so `audit_verify` sees what went
    missing. Each checkpoint is sealed with HMAC-SHA256 over its content and the previous
    checkpoint's seal, so checkpoints can be neither forged nor quietly dropped from the
    middle without the chain key. The same line goes to the log stream for an outside
    record of the newest ones.
    """

    id = models.BigAutoField(primary_key=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_event_id = models.BigIntegerField(help_text="The newest event covered (0: none).")
    event_count = models.BigIntegerField(help_text="Events up to and including it.")
    head_hash = models.CharField(max_length=64)
    key_id = models.CharField(max_length=32)
    prev_seal = models.CharField(max_length=64)
    seal = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"checkpoint {self.pk}: {self.event_count} events up to {self.last_event_id}"
