"""Proof of cookie consent: every decision a visitor or user made, as it was made."""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class ConsentCategory(models.TextChoices):
    NECESSARY = "necessary", "Strictly necessary"
    PREFERENCES = "preferences", "Preferences"
    ANALYTICS = "analytics", "Analytics"
    MARKETING = "marketing", "Marketing"


# The categories a visitor chooses; "necessary" is always on and never asked.
OPTIONAL_CATEGORIES = (
    ConsentCategory.PREFERENCES,
    ConsentCategory.ANALYTICS,
    ConsentCategory.MARKETING,
)


class ConsentMethod(models.TextChoices):
    BUTTON = "button", "Banner button"
    SETTINGS = "settings", "Cookie settings page"
    GPC = "gpc", "Global Privacy Control signal"
    API = "api", "API"
    REQUEST = "request", "Privacy request (withdrawal of consent)"


class ConsentRecordQuerySet(models.QuerySet):
    def for_visitor(self, visitor_id):
        return self.filter(visitor_id=visitor_id)

    def latest_first(self):
        return self.order_by("-created_at", "-pk")


class ConsentRecord(models.Model):
    """One consent decision. Never updated except to link it to the account that made it."""

    visitor_id = models.UUIDField(db_index=True, default=uuid.uuid4)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="consent_records",
    )
    preferences = models.BooleanField(default=False)
    analytics = models.BooleanField(default=False)
    marketing = models.BooleanField(default=False)
    cookie_policy_version = models.ForeignKey(
        "privacy.PolicyVersion",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="consent_records",
    )
    banner_version = models.CharField(max_length=32)
    method = models.CharField(max_length=16, choices=ConsentMethod.choices)
    gpc = models.BooleanField(default=False, help_text="The browser sent Sec-GPC: 1.")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    ip_hash = models.CharField(max_length=64, blank=True, default="")
    user_agent = models.CharField(max_length=512, blank=True, default="")

    objects = ConsentRecordQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["user", "-created_at"])]
        constraints = [
            # A GPC signal is recorded once per visitor per cookie policy version.
            models.UniqueConstraint(
                fields=["visitor_id", "cookie_policy_version"],
                condition=models.Q(method="gpc"),
                name="consent_gpc_once_per_visitor_version",
            )
        ]

    def __str__(self) -> str:
        return f"Consent {self.pk} of visitor {self.visitor_id}"

    @property
    def categories(self) -> list[str]:
        chosen = [ConsentCategory.NECESSARY.value]
        chosen += [c.value for c in OPTIONAL_CATEGORIES if getattr(self, c.value)]
        return chosen
