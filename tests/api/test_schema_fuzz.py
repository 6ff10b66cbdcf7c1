"""Property-based tests of the REST API against its own OpenAPI schema.

Schemathesis reads `/api/schema/` and generates valid and invalid requests for every
operation; they go through Django's WSGI application in-process, inside the test
transaction, as a signed-in workspace owner (the gateway endpoints with the gateway
token). Every answer must be below 500, documented by the schema, and every 4xx must
be in the one error format and leave the database as it was.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.conf import settings as django_settings
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from django.test import Client
from hypothesis import HealthCheck, settings
from schemathesis.checks import load_all_checks

from accounts.permissions import Role
from accounts.services import invitation_create
from apikeys.keys.services import api_key_create
from privacy.requests.services import privacy_request_submit
from support.services import support_request_create
from tests.api.support import assert_error_format, database_fingerprint
from tests.factories import UserFactory, WorkspaceFactory, add_member

load_all_checks()
from schemathesis.specs.openapi.checks import (  # noqa: E402
    ignored_auth,
    negative_data_rejection,
    positive_data_acceptance,
    use_after_free,
)

GATEWAY_OPERATIONS = {"/api/v1/usage", "/api/v1/keys/verify"}
PUBLIC_OPERATIONS = {"/api/v1/keys/report-leak"}
CSRF_TOKEN = "fuzzfuzzfuzzfuzzfuzzfuzzfuzzfuzz"
# allauth refuses a request without a client address; a real server always has one.
CLIENT = {"REMOTE_ADDR": "203.0.113.9"}

EXCLUDED_CHECKS = [
    # Schema-valid input may still break a business rule: an id that names nothing
    # (404), a second owner-only action on the same object (409), a date range over
    # the maximum span (400). The rules live in the services, not in the schema.
    positive_data_acceptance,
    # Each case runs in a savepoint that is rolled back, so a deleted object comes back
    # for the next call by design; the check would report that as use after free.
    use_after_free,
    # DRF reads input leniently where the schema is strict: 0 is the string "0" and
    # the boolean false, "true" is true, an empty query value counts as absent, an
    # unknown list filter is ignored. None of these harms anything, but the check
    # reports each. Refusals of input the services cannot take are asserted below
    # (5xx, error format, nothing changed) and by the regression tests.
    negative_data_rejection,
    # Authentication is proven by dedicated tests of each module; its probes would be
    # sent outside the per-case savepoint.
    ignored_auth,
]

CONFIG = schemathesis.Config.from_dict(
    {
        "generation": {"max-examples": 30, "mode": "all"},
        "phases": {"stateful": {"enabled": False}},
    }
)


@pytest.fixture
def _wsgi_in_test_transaction():
    """Keep the request's database work inside the test transaction.

    Django's own test client does the same: at the end of a request Django closes a
    connection whose autocommit differs from the settings, which inside the test
    transaction it always does.
    """
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


# Loaded at collection: generating the schema reads no table.
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", WSGIHandler(), config=CONFIG)


class World:
    """Real objects for the path parameters, and the owner's credentials."""

    def __init__(self):
        self.owner = UserFactory()
        self.workspace = WorkspaceFactory(owner=self.owner, name="Fuzzed")
        self.member = add_member(self.workspace, role=Role.DEVELOPER).user
        self.invitation, _ = invitation_create(
            workspace=self.workspace, actor=self.owner, email="invitee@example.com", role="viewer"
        )
        self.api_key, self.full_key = api_key_create(
            workspace=self.workspace,
            actor=self.owner,
            name="fuzz key",
            environment="development",
            scopes=["inference", "keys.read"],
        )
        self.privacy_request = privacy_request_submit(
            user=self.owner, request_type="correction", jurisdiction="eea_uk", details="x"
        )
        self.support_request = support_request_create(
            user=self.owner, subject="fuzz", category="other", message="x"
        )
        client = Client()
        client.force_login(self.owner)
        self.session = client.cookies[django_settings.SESSION_COOKIE_NAME].value

    def path_values(self) -> dict:
        return {
            "workspace_id": str(self.workspace.pk),
            "user_id": self.member.pk,
            "invitation_id": self.invitation.pk,
            "key_id": self.api_key.public_id,
            "request_id": str(self.privacy_request.pk),
            "support_request_id": str(self.support_request.pk),
        }

    def credentials(self, path: str) -> tuple[dict, dict]:
        if path in GATEWAY_OPERATIONS:
            return {"Authorization": f"Bearer {django_settings.GATEWAY_TOKENS[0]}"}, {}
        if path in PUBLIC_OPERATIONS:
            return {}, {}
        cookies = {
            django_settings.SESSION_COOKIE_NAME: self.session,
            django_settings.CSRF_COOKIE_NAME: CSRF_TOKEN,
        }
        return {"X-CSRFToken": CSRF_TOKEN}, cookies


@pytest.fixture
def world(db):
    return World()


@schema.parametrize()
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_every_generated_request_gets_a_documented_non_5xx_answer(
    case, world, _wsgi_in_test_transaction
):
    if case.meta is None or not case.meta.is_negative_at("path"):
        for name, value in world.path_values().items():
            if name in case.path_parameters:
                case.path_parameters[name] = value
    headers, cookies = world.credentials(case.operation.path)
    before = database_fingerprint()
    savepoint = transaction.savepoint()
    try:
        response = case.call(headers=headers, cookies=cookies, environ_base=CLIENT)
        assert response.status_code < 500, (response.status_code, response.text[:500])
        case.validate_response(response, excluded_checks=EXCLUDED_CHECKS, headers=headers)
        if 400 <= response.status_code < 500:
            assert_error_format(response)
            assert database_fingerprint() == before, "a refused request changed the database"
    finally:
        transaction.savepoint_rollback(savepoint)
