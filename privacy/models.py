"""Where Django finds the models of the privacy app: each feature keeps its own."""

from privacy.consent.models import ConsentRecord
from privacy.data_use.models import PrivacySettings
from privacy.deletion.models import DeletionRequest
from privacy.exports.models import DataExport, ExportStatus
from privacy.policies.models import PolicyAcceptance, PolicyNotice, PolicyVersion
from privacy.processors.models import Processor, ProcessorAction
from privacy.requests.models import PrivacyRequest, PrivacyRequestNote
from privacy.retention.models import RetentionRun

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
    "Processor",
    "ProcessorAction",
    "RetentionRun",
]
