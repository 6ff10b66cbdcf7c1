"""Hostile bodies sent to every JSON endpoint and every HTML form.

The endpoints are enumerated from the URL resolver, so a new one is covered (or fails
here asking for a value of its path parameter). Each receives deep nesting, NUL, lone
surrogates, numbers no one means, wrong types and a 10 MB body, signed in, anonymous
and (where the gateway calls) with the gateway token. Every answer must be below 500;
a refusal must leave every table with the rows it had.
"""

from __future__ import annotations

import json
import re

import pytest
from django.apps import apps
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from accounts.permissions import Role
from accounts.services import invitation_create
from accounts.webhooks.services import webhook_endpoint_create, webhook_message_enqueue
from apikeys.keys.services import api_key_create
from privacy.models import DataExport
from privacy.processors.services import processor_actions_dispatch, processor_create
from privacy.requests.services import privacy_request_submit
from support.models import SupportAttachment
from support.services import support_request_create
from tests.factories import UserFactory, WorkspaceFactory, add_member

pytestmark = pytest.mark.django_db

CLIENT = {"REMOTE_ADDR": "203.0.113.9"}
TEN_MB = 10 * 1024 * 1024
GATEWAY_ROUTES = {"api/v1/usage", "api/v1/keys/verify"}
PROCESSOR_ROUTES_PREFIX = "api/v1/processors/"
# The Django admin has its own gate (staff with MFA) and tests (tests/accounts/test_admin.py).
SKIPPED_PREFIXES = ("admin/",)

# Endpoints whose POST is the whole action: they read no body, so a hostile one is
# ignored and the action happens. Everything else must refuse the corpus.
ACTIONS_WITHOUT_INPUT = {
    # JSON
    "api/v1/workspaces/<uuid:workspace_id>/invitations/<int:invitation_id>/resend/",
    "api/v1/workspaces/<uuid:workspace_id>/invitations/<int:invitation_id>/revoke/",
    "api/v1/workspaces/<uuid:workspace_id>/keys/<str:key_id>/revoke/",
    "api/v1/privacy/requests/<uuid:request_id>/cancel/",
    "api/v1/support/requests/<uuid:support_request_id>/close/",
    "api/v1/workspaces/<uuid:workspace_id>/webhooks/<uuid:endpoint_id>/messages/<str:message_id>/resend/",
    "api/v1/processors/requests/<str:action_id>/received",
    # HTML
    "accounts/logout/",
    "account/sessions/<int:session_id>/end/",
    "w/<uuid:workspace_id>/leave/",
    "w/<uuid:workspace_id>/members/<int:user_id>/remove/",
    "w/<uuid:workspace_id>/invitations/<int:invitation_id>/resend/",
    "w/<uuid:workspace_id>/invitations/<int:invitation_id>/revoke/",
    "invitations/<int:invitation_id>/accept/",
    "w/<uuid:workspace_id>/keys/<str:key_id>/revoke/",
    "w/<uuid:workspace_id>/keys/<str:key_id>/delete/",
    "w/<uuid:workspace_id>/webhooks/<uuid:endpoint_id>/delete/",
    "w/<uuid:workspace_id>/webhooks/<uuid:endpoint_id>/messages/<str:message_id>/resend/",
    "account/delete/cancel/",
    "privacy/requests/<uuid:request_id>/cancel/",
    "support/<uuid:support_request_id>/close/",
    "policies/<int:policy_id>/acknowledge/",
    "accounts/2fa/recovery-codes/generate/",
}
# Forms made only of checkboxes: any value ticks a box and no value clears it, so every
# body is a valid choice and is saved.
CHECKBOX_FORMS = {
    "account/preferences/",
    "privacy/settings/",
}
# Tables a refused request may still write to, and why.
REFUSALS_MAY_WRITE = {
    # A request may open an anonymous session (a redirect remembers where to return);
    # it holds nothing of the request's body.
    "*": {"django_session"},
    # A failed password check is itself audited.
    "accounts/reauthenticate/": {"accounts_auditevent"},
}


def _deep(depth: int) -> str:
    return "[" * depth + "]" * depth


# (label, raw JSON text). Bodies that are JSON text but never acceptable input.
JSON_CORPUS = [
    ("deep-100000", "[" * 100_000),
    ("deep-2000-in-4kb", _deep(2000)),
    ("deep-objects", '{"a":' * 5000 + "1" + "}" * 5000),
    ("deep-inside-a-field", json.dumps({"key": "x", "name": "x"})[:-1] + ',"x":' + "[" * 3000),
    ("nul", '{"key": "a\\u0000b", "name": "a\\u0000b", "email": "a\\u0000@example.com"}'),
    ("nul-key", '{"\\u0000": 1}'),
    ("lone-surrogate", '{"key": "\\ud800", "name": "\\udfff", "client_ip": "\\ud800"}'),
    ("lone-surrogate-key", '{"\\ud800": "x"}'),
    ("huge-float", '{"max_tokens": 1e999999, "page": 1e999999, "name": 1e999999}'),
    ("nan", '{"max_tokens": NaN, "name": Infinity}'),
    ("huge-int", '{"max_tokens": ' + "9" * 5000 + "}"),
    ("wrong-types", '{"key": [], "name": {}, "scopes": "inference", "events": 5, "role": 1}'),
    ("array", "[1, 2, 3]"),
    ("scalar", '"just a string"'),
    ("not-json", "{'key': 'x'}"),
    ("bad-utf8", b'{"name": "\xff\xfe"}'),
    ("raw-surrogate-bytes", b'{"name": "\xed\xa0\x80"}'),
    ("ten-mb", b"[" + b"1," * (TEN_MB // 2) + b"1]"),
]
# Sent with POST only: one method is enough to show the size is refused, and it is slow.
POST_ONLY = {"ten-mb"}

# (label, form fields, every field gets the value) for the HTML forms.
FORM_VALUES = [
    ("nul", "x\x00y"),
    ("long-digits", "9" * 5000),
    ("brackets", "[" * 100_000),
    ("ten-mb", "x" * TEN_MB),
]
RAW_FORM_BODIES = [
    ("lone-surrogate-bytes", b"name=%ED%A0%80&email=%ED%A0%80&confirm=%ED%A0%80"),
    ("deep-json", ("[" * 100_000).encode()),
]


# ---------------------------------------------------------------------------- the world


class World:
    """Real objects for every path parameter, so requests reach the views' forms."""

    def __init__(self):
        self.owner = UserFactory()
        self.workspace = WorkspaceFactory(owner=self.owner, name="Hostile")
        self.member = add_member(self.workspace, role=Role.DEVELOPER).user
        self.invitation, self.invitation_token = invitation_create(
            workspace=self.workspace, actor=self.owner, email="invitee@example.com", role="viewer"
        )
        self.api_key, _full = api_key_create(
            workspace=self.workspace,
            actor=self.owner,
            name="hostile key",
            environment="development",
            scopes=["inference", "keys.read"],
        )
        self.privacy_request = privacy_request_submit(
            user=self.owner, request_type="correction", jurisdiction="eea_uk", details="x"
        )
        self.export = DataExport.objects.create(user=self.owner)
        self.support_request = support_request_create(
            user=self.owner,
            subject="hostile",
            category="other",
            message="x",
            attachments=[SimpleUploadedFile("log.txt", b"log line\n")],
        )
        self.attachment = SupportAttachment.objects.get(request=self.support_request)
        self.webhook_endpoint, _secret = webhook_endpoint_create(
            workspace=self.workspace,
            url="https://hooks.example.com/in",
            event_types=["api_key.created"],
            description="hostile",
            actor=self.owner,
        )
        self.webhook_message = webhook_message_enqueue(
            endpoint=self.webhook_endpoint, event_type="api_key.created", data={}
        )
        # A processor (its own callback token) and an action of its.
        self.processor, _, self.processor_token = processor_create(
            name="Hostile processor",
            purpose="Holds request logs",
            url="http://127.0.0.1:9/processor",
            request_kinds=["restriction"],
            identifiers=["account_id"],
            actor=None,
        )
        [self.processor_action] = processor_actions_dispatch(
            kind="restriction", identifiers={"account_id": str(self.owner.pk)}
        )

    def client(self, mode: str) -> Client:
        client = Client(**CLIENT)
        if mode == "session":
            client.force_login(self.owner)
            # The first signed-in request records the session (allauth's usersessions).
            client.get("/api/v1/me/")
        elif mode == "gateway":
            client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {settings.GATEWAY_TOKENS[0]}"
        elif mode == "processor":
            client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {self.processor_token}"
        return client

    def path_values(self) -> dict:
        return {
            "workspace_id": self.workspace.pk,
            "user_id": self.member.pk,
            "invitation_id": self.invitation.pk,
            "key_id": self.api_key.public_id,
            "request_id": self.privacy_request.pk,
            "export_id": self.export.pk,
            "support_request_id": self.support_request.pk,
            "attachment_id": self.attachment.pk,
            "endpoint_id": self.webhook_endpoint.pk,
            "message_id": self.webhook_message.pk,
            "action_id": self.processor_action.public_id,
            "session_id": 1,
            "policy_id": 1,
            "token": "Zm9vYmFyYmF6cXV4LXNlY3JldC10b2tlbi0xMjM0NTY3OA",
            "key": "MQ:1tAbCd:notarealconfirmationkey",
            "uidb36": "1",
            "kind_slug": "privacy",
            "version": "1",
        }


@pytest.fixture
def world(db, settings, tmp_path):
    # Attachments and exports are written to disk: into this test's own folder.
    settings.MEDIA_ROOT = tmp_path
    return World()


def routes() -> list[str]:
    """Every route of the project, as written in the URLconf."""

    def walk(patterns, prefix=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                yield prefix + str(pattern.pattern)

    found = []
    for route in walk(get_resolver().url_patterns):
        if not route.startswith(SKIPPED_PREFIXES) and route not in found:
            found.append(route)
    return found


_PARAM = re.compile(r"<(?:\w+:)?(\w+)>|\(\?P<(\w+)>[^)]*\)")


def url_of(route: str, values: dict) -> str:
    def fill(match):
        name = match.group(1) or match.group(2)
        assert name in values, f"give the hostile-input test a value for <{name}> ({route})"
        return str(values[name])

    return "/" + _PARAM.sub(fill, route).replace("^", "").replace("$", "")


JSON_ROUTES = [route for route in routes() if route.startswith("api/")]
FORM_ROUTES = [route for route in routes() if not route.startswith("api/")]


def row_counts(route: str = "") -> dict[str, int]:
    """Count the rows of every table of every installed model in one query."""
    tables = sorted({model._meta.db_table for model in apps.get_models(include_auto_created=True)})
    # Table names come from the model registry, never from input.
    sql = " UNION ALL ".join(
        f"SELECT %s, count(*) FROM {connection.ops.quote_name(table)}"  # noqa: S608
        for table in tables
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, tables)
        counts = dict(cursor.fetchall())
    for table in REFUSALS_MAY_WRITE["*"] | REFUSALS_MAY_WRITE.get(route, set()):
        counts.pop(table, None)
    return counts


def modes_for(route: str) -> tuple[str, ...]:
    if route in GATEWAY_ROUTES:
        return ("session", "anonymous", "gateway")
    if route.startswith(PROCESSOR_ROUTES_PREFIX):
        return ("session", "anonymous", "processor")
    return ("session", "anonymous")


def test_the_schema_lists_no_endpoint_the_resolver_does_not_know(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    known = {re.sub(r"\{\w+\}", "{}", "/" + _PARAM.sub("{}", route)) for route in JSON_ROUTES}
    documented = {re.sub(r"\{\w+\}", "{}", path) for path in schema["paths"]}
    assert documented <= known


def _check(response, route, label, before, *, refuse: bool):
    status = response.status_code
    assert status < 500, (route, label, status, response.content[:300])
    if route in ACTIONS_WITHOUT_INPUT or route in CHECKBOX_FORMS:
        return
    if refuse:
        assert 400 <= status < 500, (route, label, status, response.content[:300])
    assert row_counts(route) == before, (
        route,
        label,
        status,
        "a hostile body changed the database",
    )


@pytest.mark.parametrize("route", JSON_ROUTES)
def test_json_endpoints_refuse_hostile_bodies_without_a_server_error(world, route):
    url = url_of(route, world.path_values())
    for mode in modes_for(route):
        client = world.client(mode)
        # Nothing may change, so the counts before the first request hold for every one.
        before = row_counts(route)
        for method in ("post", "put", "patch"):
            for label, body in JSON_CORPUS:
                if method != "post" and label in POST_ONLY:
                    continue
                response = getattr(client, method)(url, body, content_type="application/json")
                _check(response, route, f"{mode} {method} {label}", before, refuse=True)
                if 400 <= response.status_code < 500 and route.startswith("api/v1/"):
                    assert response["Content-Type"].startswith("application/json")
                    assert set(response.json()) == {"error"}, (route, label)


@pytest.mark.parametrize("route", FORM_ROUTES)
def test_html_forms_refuse_hostile_values_without_a_server_error(world, route):
    url = url_of(route, world.path_values())
    for mode in ("session", "anonymous"):
        client = world.client(mode)
        page = client.get(url)
        assert page.status_code < 500, (route, mode, page.status_code)
        html = b"" if page.streaming else page.content
        names = set(re.findall(rb'name="([\w-]+)"', html)) - {b"csrfmiddlewaretoken"}
        names = {name.decode() for name in names} or {"name", "email", "confirm"}
        before = row_counts(route)
        for label, value in FORM_VALUES:
            response = client.post(url, {name: value for name in names})
            # A form answers its own errors with 200; it must change nothing either way.
            _check(response, route, f"{mode} form {label}", before, refuse=False)
            lists = {name: ["second", value] for name in names}
            response = client.post(url, lists)
            _check(response, route, f"{mode} form list {label}", before, refuse=False)
        for label, body in RAW_FORM_BODIES:
            for content_type in ("application/x-www-form-urlencoded", "application/json"):
                response = client.post(url, body, content_type=content_type)
                _check(response, route, f"{mode} {content_type} {label}", before, refuse=False)


def test_the_verify_endpoint_refuses_nesting_inside_its_4kb_limit(world):
    body = '{"key": "x", "x": ' + "[" * 2000 + "]" * 2000 + "}"
    assert len(body) < 4096
    response = world.client("gateway").post(
        "/api/v1/keys/verify", body, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert "32 levels" in response.json()["error"]["message"]


def test_the_anonymous_leak_report_refuses_deep_nesting(world):
    response = world.client("anonymous").post(
        "/api/v1/keys/report-leak", "[" * 100_000, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"


@pytest.mark.parametrize(
    "client_ip", ["not-an-ip", "\ud800", "1.2.3.4\x00", 16909060, "fe80::1%eth0", "1" * 65]
)
def test_verify_refuses_a_client_ip_that_is_not_an_address(world, client_ip):
    body = json.dumps({"key": "x", "client_ip": client_ip})
    response = world.client("gateway").post(
        "/api/v1/keys/verify", body, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"


def test_verify_takes_ipv4_and_ipv6_client_addresses(world):
    for client_ip in ("203.0.113.7", "2001:db8::1"):
        body = json.dumps({"key": "x", "client_ip": client_ip})
        response = world.client("gateway").post(
            "/api/v1/keys/verify", body, content_type="application/json"
        )
        assert response.status_code == 200
        assert response.json()["code"] == "malformed"


def test_a_json_body_over_the_upload_limit_answers_413_in_the_error_format(world):
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    body = json.dumps({"name": "x" * limit})
    response = world.client("session").post(
        "/api/v1/workspaces/", body, content_type="application/json"
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"
