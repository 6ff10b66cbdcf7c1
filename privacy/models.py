"""Models of the privacy center, one module per area."""

from privacy.models.consent import ConsentRecord
from privacy.models.deletion import DeletionRequest
from privacy.models.export import DataExport, ExportStatus
from privacy.models.policy import PolicyAcceptance, PolicyNotice, PolicyVersion
from privacy.models.requests import PrivacyRequest, PrivacyRequestNote
from privacy.models.retention import RetentionRun
from privacy.models.settings import PrivacySettings

__all__ = [
    "ConsentRecord",
    "DataExport",
    "DeletionRequest",
    "ExportStatus",
    "PolicyAcceptance",
    "PolicyNotice",
    "PolicyVersion",
    "PrivacyRequest",
    "PrivacyRequestNote",
    "PrivacySettings",
    "RetentionRun",
]
