"""Models of the privacy center, one module per area."""

from privacy.models.settings import PrivacySettings

__all__ = ["PrivacySettings"]
