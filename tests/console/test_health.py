import socket

import pytest

pytestmark = pytest.mark.django_db


def _closed_port() -> int:
    """Return a local port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return port


def _verdicts(response) -> dict[str, bool]:
    return {name: check["ok"] for name, check in response.json()["checks"].items()}


def test_healthz_reports_database_cache_and_broker_ok(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert _verdicts(response) == {"database": True, "cache": True, "broker": True}
    assert "no-cache" in response["Cache-Control"]


def test_healthz_is_503_when_the_broker_is_unreachable(client, settings):
    settings.CELERY_BROKER_URL = f"redis://:hunter2-secret@127.0.0.1:{_closed_port()}/0"

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["status"] == "degraded"
    assert _verdicts(response) == {"database": True, "cache": True, "broker": False}


def test_healthz_failure_does_not_reveal_the_broker_address_or_credentials(client, settings):
    port = _closed_port()
    settings.CELERY_BROKER_URL = f"redis://console:hunter2-secret@127.0.0.1:{port}/0"

    body = client.get("/healthz").content.decode()

    assert "hunter2" not in body
    assert "console:" not in body
    assert "127.0.0.1" not in body
    assert str(port) not in body
    assert "redis" not in body.lower()


def test_healthz_checks_the_filesystem_broker_folder_exists(client, settings, tmp_path):
    settings.CELERY_BROKER_URL = "filesystem://"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(tmp_path),
        "data_folder_out": str(tmp_path),
    }
    assert client.get("/healthz").status_code == 200

    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(tmp_path / "missing"),
        "data_folder_out": str(tmp_path / "missing"),
    }
    response = client.get("/healthz")

    assert response.status_code == 503
    assert _verdicts(response)["broker"] is False


def test_healthz_accepts_only_get(client):
    assert client.post("/healthz").status_code == 405


def test_healthz_checks_verify_redis_when_it_is_a_deployment_of_its_own(client, settings):
    settings.VERIFY_REDIS_URL = settings.REDIS_URL

    response = client.get("/healthz")

    assert response.status_code == 200
    assert _verdicts(response) == {
        "database": True,
        "cache": True,
        "broker": True,
        "verify_store": True,
    }


def test_healthz_is_503_when_verify_redis_is_unreachable(client, settings):
    settings.VERIFY_REDIS_URL = f"redis://:hunter2-secret@127.0.0.1:{_closed_port()}/0"

    response = client.get("/healthz")

    assert response.status_code == 503
    assert _verdicts(response)["verify_store"] is False
    assert _verdicts(response)["cache"] is True
    assert "hunter2" not in response.content.decode()
