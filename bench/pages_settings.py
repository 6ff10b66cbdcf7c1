"""Settings for the dashboard page benchmark only: the test settings with database
connections kept between requests, as in production (base settings). Never used by the
product."""

from console.settings.test import *  # noqa: F403
from console.settings.test import DATABASES

DATABASES["default"]["CONN_MAX_AGE"] = 60
DEBUG = False
LOGGING = {"version": 1, "disable_existing_loggers": True, "root": {"level": "ERROR"}}
