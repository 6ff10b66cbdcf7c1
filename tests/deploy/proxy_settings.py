"""The test settings with allauth's rate limits of production, for the proxy test's server."""

from console.settings.base import ACCOUNT_RATE_LIMITS as _PRODUCTION_RATE_LIMITS
from console.settings.test import *  # noqa: F403

ACCOUNT_RATE_LIMITS = _PRODUCTION_RATE_LIMITS
