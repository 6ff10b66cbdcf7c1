"""The admin of the apikeys app: each feature registers its own models."""

from apikeys.keys import admin as keys_admin
from apikeys.usage import admin as usage_admin

__all__ = ["keys_admin", "usage_admin"]
