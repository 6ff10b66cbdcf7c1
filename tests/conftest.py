"""Shared fixtures. Tests run against the real PostgreSQL and Redis of the test settings."""

import pytest
from django.core.cache import cache

from tests.factories import UserFactory, WorkspaceFactory


@pytest.fixture(autouse=True)
def _clean_cache():
    """Start every test with an empty cache (the Redis DB/prefix of the test settings)."""
    cache.clear()
    yield


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def workspace(user):
    return WorkspaceFactory(owner=user)
