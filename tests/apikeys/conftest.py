"""Fixtures for the API key tests: keys created through the service."""

import pytest

from apikeys.keys.services import api_key_create


@pytest.fixture
def make_key(workspace, user):
    """Create a key in `workspace` (by its owner unless told); return (ApiKey, full key)."""

    def factory(*, actor=None, target=None, **kwargs):
        kwargs.setdefault("name", "Test key")
        kwargs.setdefault("environment", "development")
        kwargs.setdefault("scopes", ["models.read", "inference"])
        return api_key_create(workspace=target or workspace, actor=actor or user, **kwargs)

    return factory
