"""Versions of the public policies, advance notices of material changes, acceptances."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class PolicyKind(models.TextChoices):
    PRIVACY = "privacy", "Privacy policy"
    COOKIE = "cookie", "Cookie policy"


class PolicyVersionQuerySet(models.QuerySet):
    def published(self):
        return self.filter(published_at__isnull=False)

    def effective(self, *, now=None):
        """Published versions already in force, newest first."""
        now = now or timezone.now()
        return self.published().filter(effective_at__lte=now).order_by("-effective_at", "-pk")

    def upcoming(self, *, now=None):
        now = now or timezone.now()
        return self.published().filter(effective_at__gt=now).order_by("effective_at", "pk")


class PolicyVersion(models.Model):
    """One version of the privacy or cookie policy.

    A draft (no `published_at`) can be edited; a published version is frozen, because
    consent records and acceptances point at it as proof of what people were shown.
    """

    kind = models.CharField(max_length=16, choices=PolicyKind.choices)
    version = models.CharField(max_length=32, help_text="A label such as 2025-01-15.")
    title = models.CharField(max_length=200)
    body_markdown = models.TextField(help_text="Markdown. Raw HTML is removed when rendered.")
    body_html = models.TextField(blank=True, default="", editable=False)
    summary_of_changes = models.TextField(blank=True, default="")
    material_change = models.BooleanField(
        default=False,
        help_text="Material changes are emailed to every user in advance and must be acknowledged.",
    )
    effective_at = models.DateTimeField()
    notice_days = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Days of advance notice, fixed when published."
    )
    notice_send_at = models.DateTimeField(null=True, blank=True, editable=False)
    notices_completed_at = models.DateTimeField(null=True, blank=True, editable=False)
    published_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = PolicyVersionQuerySet.as_manager()

    class Meta:
        ordering = ["kind", "-effective_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "version"], name="policy_version_unique_label")
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.version}"

    @property
    def is_published(self) -> bool:
        return self.published_at is not None


class PolicyNotice(models.Model):
    """An advance-notice email of a material change, sent to one user at most once."""

    policy_version = models.ForeignKey(
        PolicyVersion, on_delete=models.PROTECT, related_name="notices"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="policy_notices"
    )
    queued_at = models.DateTimeField(default=timezone.now)
    # Set when the email is sent (the outbox's hook), not when it is queued.
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-queued_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["policy_version", "user"], name="policy_notice_once_per_user"
            )
        ]

    def __str__(self) -> str:
        return f"Notice of {self.policy_version_id} to user {self.user_id}"


class AcceptanceSource(models.TextChoices):
    SIGNUP = "signup", "Accepted at sign-up"
    NOTICE = "notice", "Acknowledged a change notice"


class PolicyAcceptance(models.Model):
    """A user accepted a version at sign-up or acknowledged a material change."""

    policy_version = models.ForeignKey(
        PolicyVersion, on_delete=models.PROTECT, related_name="acceptances"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="policy_acceptances"
    )
    source = models.CharField(max_length=16, choices=AcceptanceSource.choices)
    accepted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-accepted_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["policy_version", "user"], name="policy_acceptance_once_per_user"
            )
        ]

    def __str__(self) -> str:
        return f"User {self.user_id} accepted {self.policy_version_id} ({self.source})"
