"""Fixtures for the API key tests: keys created through the service, and the store
verify runs on.

Every test here runs twice, once with verify on the test Redis server and once on a
Redis Cluster of three masters (VERIFY_REDIS_URL), unless it is marked `single_redis`:
those test a single server's own behaviour (restarted empty) or the embedded mode.
"""

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


VERIFY_STORES = ("redis", "cluster")


def pytest_generate_tests(metafunc):
    if "verify_store" in metafunc.fixturenames:
        single = metafunc.definition.get_closest_marker("single_redis") is not None
        metafunc.parametrize(
            "verify_store", VERIFY_STORES[:1] if single else VERIFY_STORES, indirect=True
        )


@pytest.fixture(autouse=True)
def verify_store(request, settings):
    """Point verify at the Redis server or the cluster; start each test empty."""
    from apikeys.keys import verification

    if request.param == "cluster":
        servers = request.getfixturevalue("redis_cluster")
        servers.flush()
        settings.VERIFY_REDIS_URL = servers.url
    else:
        settings.VERIFY_REDIS_URL = ""
    verification.local_cache_clear()
    yield request.param
    verification.local_cache_clear()
