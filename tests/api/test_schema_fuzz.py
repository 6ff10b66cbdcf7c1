"""Property-based tests of the REST API against its own OpenAPI schema, on a live server.

gunicorn serves the console from the test database and the test Redis (a child process
on a loopback port of its own, stopped by its PID), so what a request deletes stays
deleted. Schemathesis reads `/api/schema/` and sends generated valid and invalid
requests for every operation, with every check on, twice: signed in with a session (and
its CSRF token), and with a management key holding every management scope (the
operations that accept one). The gateway endpoints get the gateway token. Every answer
must be documented by the schema and agree with it, every 4xx must be in the one error
format and leave the database as it was. Generation is derandomized: the same requests
on every run, so a failure is a finding, never luck.
"""

from __future__ import annotations

import datetime
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import schemathesis
from django.conf import settings as django_settings
from django.db import connection
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from apikeys.usage.selectors import MAX_RANGE_DAYS
from tests.accounts.webhooks.receiver import Receiver
from tests.api.support import World, assert_error_format, database_fingerprint, documented_refusal

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_SECONDS = 60
# A slow answer on a loaded machine is not a finding; a hung request still fails.
REQUEST_TIMEOUT_SECONDS = 60
MAX_EXAMPLES = 25

CONFIG = schemathesis.Config.from_dict(
    {
        "generation": {
            "max-examples": MAX_EXAMPLES,
            "mode": "all",
            "deterministic": True,
            # Credentials are the real ones below, never generated.
            "with-security-parameters": False,
            # Every JSON body refuses NUL (PostgreSQL cannot store it), as the API's
            # description says; the schema's string types cannot.
            "allow-x00": False,
        },
        "request-timeout": REQUEST_TIMEOUT_SECONDS,
        "checks": {
            "enabled": True,
            # Schemathesis's list of refusals, and 413: a usage batch over 1,000 events
            # (documented) is refused for its size.
            "negative_data_rejection": {
                "expected-statuses": [
                    *("400", "401", "403", "404", "405", "406", "409"),
                    *("413", "415", "422", "428", "429", "5xx"),
                ]
            },
        },
    }
)


# ---------------------------------------------------------------------------- the server


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _database_url() -> str:
    db = connection.settings_dict
    return "postgres://{user}:{password}@{host}:{port}/{name}".format(
        user=urllib.parse.quote(db["USER"] or ""),
        password=urllib.parse.quote(db["PASSWORD"] or ""),
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        name=urllib.parse.quote(db["NAME"]),
    )


def _stop(process: subprocess.Popen) -> None:
    """Stop the child we started, by its PID."""
    if process.poll() is None:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


@pytest.fixture(scope="module")
def live_url(django_db_setup, django_db_blocker, tmp_path_factory):
    """gunicorn with the production config, on the test database and the test settings."""
    with django_db_blocker.unblock():
        database_url = _database_url()
    port = _free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("DJANGO_")}
    env.update(
        DJANGO_SETTINGS_MODULE="console.settings.test",
        # The test database, and the Redis database and key prefix of this test run.
        DATABASE_URL=database_url,
        REDIS_URL=django_settings.REDIS_URL,
        CELERY_BROKER_URL=django_settings.CELERY_BROKER_URL,
        CACHE_KEY_PREFIX=django_settings.CACHES["default"]["KEY_PREFIX"],
        HOST="127.0.0.1",
        PORT=str(port),
        WEB_CONCURRENCY="1",
        GUNICORN_THREADS="2",
        # No recycling: a worker booting again mid-run would stall the request it missed.
        GUNICORN_MAX_REQUESTS="0",
        GUNICORN_TIMEOUT=str(REQUEST_TIMEOUT_SECONDS),
        # Webhooks the fuzz registers reach the tests' receiver on loopback only: a
        # public address fails its attempt without a connection.
        WEBHOOK_ALLOWED_PRIVATE_NETWORKS="127.0.0.0/8",
        WEBHOOK_DELIVER_TO_PUBLIC_NETWORKS="false",
        PYTHONUNBUFFERED="1",
    )
    log = tmp_path_factory.mktemp("fuzz") / "gunicorn.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py"],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        # Ready when the worker answers, not when the socket listens: the first request
        # must not pay for the worker's start.
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            if process.poll() is not None:
                pytest.fail(f"gunicorn exited with {process.returncode}:\n{log.read_text()}")
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=5):  # noqa: S310
                    break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"gunicorn does not answer after {START_TIMEOUT_SECONDS}s")
                time.sleep(0.2)
        yield url
    finally:
        _stop(process)


def _served_schema() -> dict:
    # Generating the schema reads no table, so it can be loaded at collection, in-process;
    # a test below proves that the live server serves this very document.
    from django.test import Client

    return Client().get("/api/schema/", {"format": "json"}).json()


SCHEMA_DOCUMENT = _served_schema()
schema = schemathesis.openapi.from_dict(SCHEMA_DOCUMENT, config=CONFIG)


# Two rules join two query parameters, which a JSON schema cannot say; the parameters'
# descriptions say them. Valid requests keep to them; invalid ones are still generated.
_DATE_RANGES = {
    "/api/v1/workspaces/{workspace_id}/usage/": ("from", "to", MAX_RANGE_DAYS),
    "/api/v1/workspaces/{workspace_id}/audit-events/": ("since", "until", None),
}


def _without_refused_range(path: str, query):
    """Leave out the start of a range the server would refuse for its span alone."""
    rule = _DATE_RANGES.get(path)
    if rule is None or not isinstance(query, dict):
        return query
    start_name, end_name, max_days = rule
    try:
        start = datetime.date.fromisoformat(query[start_name]) if start_name in query else None
        end = datetime.date.fromisoformat(query[end_name]) if end_name in query else None
    except (TypeError, ValueError):
        return query  # not a date: a request the server must refuse anyway
    if start is None:
        return query
    if max_days is not None:
        end = end or datetime.datetime.now(datetime.UTC).date()
        refused = start > end or (end - start).days >= max_days
    else:
        refused = end is not None and start > end
    if refused:
        query = {name: value for name, value in query.items() if name != start_name}
    return query


def _without_past_expiry(path: str, body):
    """Leave out a key's expiry in the past: it is refused for the clock alone."""
    if path != "/api/v1/workspaces/{workspace_id}/keys/" or not isinstance(body, dict):
        return body
    if not isinstance(body.get("expires_at"), str):
        return body
    try:
        expires_at = datetime.datetime.fromisoformat(body["expires_at"])
    except ValueError:
        return body
    if expires_at.tzinfo is not None and expires_at <= datetime.datetime.now(datetime.UTC):
        body = {name: value for name, value in body.items() if name != "expires_at"}
    return body


def _accepts_management_keys(ctx) -> bool:
    security = ctx.operation.definition.raw.get("security") or []
    return any("apiKey" in requirement for requirement in security)


@pytest.fixture(scope="module")
def webhook_receiver():
    receiver = Receiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture
def world(transactional_db, webhook_receiver):
    return World(webhook_url=webhook_receiver.url)


def _negative_in_name_only(case) -> bool:
    """A case generated in negative mode in which nothing sent is invalid: no part is
    negative, or the only negative part is a body left out where the body is optional
    (schemathesis yields both). Its acceptance proves nothing; every other check runs."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_negative:
        return False
    negative = {
        str(getattr(location, "value", location)).lower()
        for location, component in meta.components.items()
        if component.mode.is_negative
    }
    if not negative:
        return True
    body_left_out = case.body is None or type(case.body).__name__ == "NotSet"
    request_body = case.operation.definition.raw.get("requestBody") or {}
    return negative == {"body"} and body_left_out and not request_body.get("required")


def call_and_check(case, world: World, base_url: str, headers: dict) -> None:
    """Send the case with real ids and credentials; every check must pass."""
    world.ensure()
    if case.meta is None or not case.meta.is_negative_at("path"):
        for name, value in world.path_values().items():
            if name in case.path_parameters:
                case.path_parameters[name] = value
    # Every phase (examples, coverage, fuzzing) passes here, unlike generation hooks.
    case.query = _without_refused_range(case.operation.path, case.query)
    case.body = _without_past_expiry(case.operation.path, case.body)
    before = database_fingerprint()
    response = case.call(base_url=base_url, headers=headers)
    # A documented refusal of schema-valid input (a URL whose host resolves inside) is
    # still checked for its format, its documentation and an unchanged database.
    excluded = [positive_data_acceptance] if documented_refusal(response) else []
    if _negative_in_name_only(case):
        excluded.append(negative_data_rejection)
    case.validate_response(response, headers=headers, excluded_checks=excluded)
    if 400 <= response.status_code < 500:
        assert_error_format(response)
        assert database_fingerprint() == before, "a refused request changed the database"


FUZZ_SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.mark.django_db(transaction=True)
@schema.parametrize()
@FUZZ_SETTINGS
def test_every_operation_keeps_its_contract_with_a_session(case, world, live_url):
    call_and_check(case, world, live_url, world.session_headers(case.operation.path))


@pytest.mark.django_db(transaction=True)
@schema.include(_accepts_management_keys).parametrize()
@FUZZ_SETTINGS
def test_every_operation_keeps_its_contract_with_a_management_key(case, world, live_url):
    call_and_check(case, world, live_url, world.key_headers())


def test_the_live_server_serves_the_schema_under_test(live_url):
    with urllib.request.urlopen(f"{live_url}/api/schema/?format=json") as response:  # noqa: S310
        assert json.load(response) == SCHEMA_DOCUMENT
