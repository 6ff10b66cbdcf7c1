"""The admin of the privacy app: each feature registers its own models."""

from privacy.consent import admin as consent_admin
from privacy.deletion import admin as deletion_admin
from privacy.policies import admin as policies_admin
from privacy.processors import admin as processors_admin
from privacy.requests import admin as requests_admin
from privacy.retention import admin as retention_admin

__all__ = [
    "consent_admin",
    "deletion_admin",
    "policies_admin",
    "processors_admin",
    "requests_admin",
    "retention_admin",
]
