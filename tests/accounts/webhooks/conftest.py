import pytest

from tests.accounts.webhooks.receiver import Receiver


@pytest.fixture(scope="session")
def _receiver_server():
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture
def receiver(_receiver_server):
    """The session's receiver, with its record and script cleared for this test."""
    _receiver_server.reset()
    yield _receiver_server
    _receiver_server.reset()
