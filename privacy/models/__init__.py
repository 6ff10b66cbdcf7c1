"""Models of the privacy center, one module per area."""

from privacy.models.requests import PrivacyRequest, PrivacyRequestNote
from privacy.models.settings import PrivacySettings

__all__ = ["PrivacyRequest", "PrivacyRequestNote", "PrivacySettings"]
