"""Settings for the verify benchmarks only: the test settings plus the comparison app
(djangorestframework-api-key) and comparison-only URLs. Never used by the product."""

from console.settings.test import *  # noqa: F403
from console.settings.test import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "rest_framework_api_key"]
ROOT_URLCONF = "bench.verify_urls"
DEBUG = False
LOGGING = {"version": 1, "disable_existing_loggers": True, "root": {"level": "ERROR"}}
