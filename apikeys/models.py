"""Where Django finds the models of the apikeys app: each feature keeps its own."""

from apikeys.keys.models import ApiKey, ApiKeyQuerySet
from apikeys.keys.tokens import Environment
from apikeys.usage.models import (
    BudgetAlert,
    BudgetAlertScope,
    Moderation,
    UsageDailyRollup,
    UsageRecord,
    UsageWorkspaceDailyRollup,
)

__all__ = [
    "ApiKey",
    "ApiKeyQuerySet",
    "BudgetAlert",
    "BudgetAlertScope",
    "Environment",
    "Moderation",
    "UsageDailyRollup",
    "UsageRecord",
    "UsageWorkspaceDailyRollup",
]
