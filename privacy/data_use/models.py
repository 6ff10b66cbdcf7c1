"""A person's privacy choices."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class PrivacySettings(models.Model):
    """One row per user; absent means every default (nothing opted out)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="privacy_settings"
    )
    training_opt_out = models.BooleanField(
        default=False, help_text="Do not use my data for model training."
    )
    do_not_sell_or_share = models.BooleanField(
        default=False, help_text="Do not sell or share my personal information (CCPA)."
    )
    processing_restricted = models.BooleanField(
        default=False, help_text="Set by staff when a restriction request is granted."
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "privacy settings"

    def __str__(self) -> str:
        return f"Privacy settings of user {self.user_id}"
