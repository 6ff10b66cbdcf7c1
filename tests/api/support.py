"""What the schema tests share: real objects and credentials, and the refusal checks."""

from __future__ import annotations

import time

from django.apps import apps
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from accounts.models import Membership
from accounts.permissions import Role
from accounts.services import invitation_create
from accounts.webhooks.models import WebhookEndpoint, WebhookMessage
from accounts.webhooks.services import webhook_endpoint_create, webhook_message_enqueue
from apikeys.keys.models import ApiKey
from apikeys.keys.scopes import MANAGEMENT_SCOPES
from apikeys.keys.services import api_key_create
from privacy.processors.models import OPEN_STATES, ProcessorAction
from privacy.processors.services import processor_actions_dispatch, processor_create
from privacy.requests.models import PrivacyRequest
from privacy.requests.services import privacy_request_submit
from support.models import SupportRequest
from support.services import support_request_create
from tests.factories import UserFactory, WorkspaceFactory, add_member
from tests.support import api_client_signed_in

GATEWAY_OPERATIONS = {"/api/v1/usage", "/api/v1/keys/verify"}
PUBLIC_OPERATIONS = {"/api/v1/keys/report-leak"}
PROCESSOR_OPERATIONS_PREFIX = "/api/v1/processors/"
CSRF_TOKEN = "fuzzfuzzfuzzfuzzfuzzfuzzfuzzfuzz"
TABLES_OF = ("accounts", "webhooks", "apikeys", "privacy", "support")
# A refusal the schema documents but cannot express: where an https:// URL's host
# resolves is known only when the request is made (operation descriptions say so).
DOCUMENTED_REFUSALS = {"webhook_url_refused"}


class World:
    """Real objects for the path parameters, and both kinds of credentials.

    Requests may delete what they name (a key, the workspace); `ensure` puts back what
    the next request needs, so every case still meets real objects.
    """

    def __init__(self, *, webhook_url: str):
        # The tests' own receiver on loopback: deliveries the fuzz causes never leave
        # the machine (the server admits 127.0.0.0/8 and no public network).
        self.webhook_url = webhook_url
        self.owner = UserFactory()
        # The owner confirmed the password moments ago: production keys are allowed.
        client = api_client_signed_in(self.owner)
        self.session = client.cookies[django_settings.SESSION_COOKIE_NAME].value
        self.workspace = None
        # A processor with its callback token, and an action of its to answer.
        self.processor, _, self.processor_token = processor_create(
            name=f"Fuzzed processor {time.monotonic_ns()}",
            purpose="Holds request logs",
            # Loopback (the test settings allow it for webhooks), a port nothing listens
            # on: a delivery attempt never leaves the machine.
            url="http://127.0.0.1:9/processor",
            request_kinds=["restriction"],
            identifiers=["account_id"],
            actor=None,
        )
        self.processor_action = None
        self.ensure()

    def ensure(self) -> None:
        if (
            self.workspace is None
            or not Membership.objects.filter(
                workspace=self.workspace,
                workspace__deleted_at=None,
                user=self.owner,
                role=Role.OWNER,
            ).exists()
        ):
            self._new_workspace()
        if not ApiKey.objects.filter(pk=self.api_key.pk, revoked_at__isnull=True).exists():
            self.api_key, _ = self._key(["inference", "keys.read"], "fuzz key")
        if not ApiKey.objects.filter(pk=self.management_key.pk, revoked_at__isnull=True).exists():
            self.management_key, self.management_secret = self._key(
                list(MANAGEMENT_SCOPES), "management key"
            )
        if not self.workspace.memberships.filter(user=self.member).exists():
            self.member = add_member(self.workspace, role=Role.DEVELOPER).user
        if not self.workspace.invitations.pending().filter(pk=self.invitation.pk).exists():
            self.invitation, _ = invitation_create(
                workspace=self.workspace,
                actor=self.owner,
                email=f"invitee{time.monotonic_ns()}@example.com",
                role="viewer",
            )
        if not PrivacyRequest.objects.open().filter(pk=self.privacy_request.pk).exists():
            self.privacy_request = self._privacy_request()
        if not SupportRequest.objects.filter(pk=self.support_request.pk).exists():
            self.support_request = self._support_request()
        if not WebhookEndpoint.objects.filter(
            pk=self.webhook_endpoint.pk, workspace=self.workspace
        ).exists():
            self.webhook_endpoint, self.webhook_message = self._webhook()
        elif not WebhookMessage.objects.filter(pk=self.webhook_message.pk).exists():
            self.webhook_message = self._webhook_message(self.webhook_endpoint)
        if (
            self.processor_action is None
            or not ProcessorAction.objects.filter(
                pk=self.processor_action.pk, state__in=OPEN_STATES
            ).exists()
        ):
            # A settled action answers 409 to most answers; each case meets an open one.
            [self.processor_action] = processor_actions_dispatch(
                kind="restriction",
                identifiers={"account_id": str(self.owner.pk)},
                subject_user_id=self.owner.pk,
            )

    def _new_workspace(self) -> None:
        self.workspace = WorkspaceFactory(owner=self.owner, name="Fuzzed")
        self.member = add_member(self.workspace, role=Role.DEVELOPER).user
        self.invitation, _ = invitation_create(
            workspace=self.workspace,
            actor=self.owner,
            email=f"invitee{time.monotonic_ns()}@example.com",
            role="viewer",
        )
        self.api_key, _ = self._key(["inference", "keys.read"], "fuzz key")
        self.management_key, self.management_secret = self._key(
            list(MANAGEMENT_SCOPES), "management key"
        )
        self.privacy_request = self._privacy_request()
        self.support_request = self._support_request()
        self.webhook_endpoint, self.webhook_message = self._webhook()

    def _webhook(self):
        endpoint, _ = webhook_endpoint_create(
            workspace=self.workspace,
            url=self.webhook_url,
            event_types=["api_key.created", "member.role_changed"],
            description="fuzz receiver",
            actor=self.owner,
        )
        return endpoint, self._webhook_message(endpoint)

    def _webhook_message(self, endpoint):
        return webhook_message_enqueue(
            endpoint=endpoint, event_type="api_key.created", data={"key_id": "fuzz"}
        )

    def _support_request(self):
        return support_request_create(
            user=self.owner,
            subject="fuzz",
            category="other",
            message="x",
            attachments=[SimpleUploadedFile("notes.txt", b"fuzz notes", "text/plain")],
        )

    def _key(self, scopes: list[str], name: str):
        return api_key_create(
            workspace=self.workspace,
            actor=self.owner,
            name=name,
            environment="development",
            scopes=scopes,
        )

    def _privacy_request(self):
        # Generated requests may have opened one of each type already.
        open_request = PrivacyRequest.objects.open().filter(user=self.owner).first()
        return open_request or privacy_request_submit(
            user=self.owner, request_type="correction", jurisdiction="eea_uk", details="x"
        )

    def path_values(self) -> dict:
        return {
            "workspace_id": str(self.workspace.pk),
            "user_id": self.member.pk,
            "invitation_id": self.invitation.pk,
            "key_id": self.api_key.public_id,
            "request_id": str(self.privacy_request.pk),
            "support_request_id": str(self.support_request.pk),
            "attachment_id": str(self.support_request.attachments.get().pk),
            "endpoint_id": str(self.webhook_endpoint.pk),
            "message_id": self.webhook_message.pk,
            "action_id": self.processor_action.public_id,
        }

    def session_headers(self, path: str) -> dict:
        if path in GATEWAY_OPERATIONS:
            return {"Authorization": f"Bearer {django_settings.GATEWAY_TOKENS[0]}"}
        if path in PUBLIC_OPERATIONS:
            return {}
        if path.startswith(PROCESSOR_OPERATIONS_PREFIX):
            return {"Authorization": f"Bearer {self.processor_token}"}
        cookies = {
            django_settings.SESSION_COOKIE_NAME: self.session,
            django_settings.CSRF_COOKIE_NAME: CSRF_TOKEN,
        }
        return {
            "Cookie": "; ".join(f"{name}={value}" for name, value in cookies.items()),
            "X-CSRFToken": CSRF_TOKEN,
        }

    def key_headers(self) -> dict:
        return {"Authorization": f"Bearer {self.management_secret}"}


def database_fingerprint() -> dict[str, str]:
    """Hash every row of the project's tables, one digest per table."""
    tables = sorted(
        {
            model._meta.db_table
            for label in TABLES_OF
            for model in apps.get_app_config(label).get_models()
        }
    )
    # Table names come from the model registry, never from input.
    sql = " UNION ALL ".join(
        "SELECT %s, md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) "  # noqa: S608
        f"FROM {connection.ops.quote_name(table)} t"
        for table in tables
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, tables)
        return dict(cursor.fetchall())


def documented_refusal(response) -> bool:
    """A 400 the operation documents for a reason its schema cannot state."""
    if response.status_code != 400:
        return False
    try:
        return response.json()["error"]["code"] in DOCUMENTED_REFUSALS
    except (ValueError, KeyError, TypeError):
        return False


def assert_error_format(response) -> None:
    content_type = response.headers.get("content-type", [""])[0]
    assert content_type.startswith("application/json"), (
        response.status_code,
        content_type,
        response.text[:300],
    )
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert isinstance(error.get("code"), str) and error["code"], body
    assert isinstance(error.get("message"), str) and error["message"], body
    assert set(error) <= {"code", "message", "fields"}, body
