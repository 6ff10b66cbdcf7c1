"""axe-core (WCAG 2.1 A and AA rules) on every signed-in dashboard page, in chromium.

Each page is loaded with data in it (keys, usage, audit events, members, an
invitation) and with every disclosure opened, at a desktop and a phone width; the
check is zero violations. axe-core comes with the `axe-playwright-python` package.
"""

import datetime as dt

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.utils import timezone

from accounts.permissions import Role
from accounts.services import invitation_create
from accounts.webhooks.models import WebhookEndpoint
from accounts.webhooks.services import webhook_endpoint_create, webhook_message_enqueue
from apikeys.usage.services import usage_records_ingest
from tests.apikeys.usage_support import make_key, usage_event
from tests.e2e.browser import sign_in
from tests.factories import UserFactory, WorkspaceFactory, add_member

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
VIEWPORTS = {"desktop": (1280, 800), "phone": (375, 740)}


def _dashboard(user):
    workspace = WorkspaceFactory(owner=user, name="Orbit")
    add_member(workspace, Role.DEVELOPER, user=UserFactory(email="dev@example.com"))
    invitation_create(workspace=workspace, actor=user, email="new@example.com", role=Role.VIEWER)
    keys = [make_key(workspace, name=f"Service key number {i}") for i in range(3)]
    now = timezone.now()
    usage_records_ingest(
        events=[
            usage_event(
                keys[i % 3],
                request_id=f"a11y-{i}",
                occurred_at=now - dt.timedelta(hours=7 * i),
                model=("large-model-2026-preview", "small-1", "embed-1")[i % 3],
                moderation=("none", "flagged", "blocked")[i % 3],
                status=(200, 200, 429)[i % 3],
            )
            for i in range(24)
        ]
    )
    # An endpoint whose name does not resolve: its delivery log holds a refused attempt.
    endpoint, _ = webhook_endpoint_create(
        workspace=workspace,
        url="https://hooks.invalid/console",
        event_types=["api_key.created", "member.joined"],
        description="Deploy bot",
        actor=user,
    )
    webhook_message_enqueue(endpoint=endpoint, event_type="api_key.created", data={"key_id": "k"})
    return workspace, keys


def _pages(workspace, key) -> list[str]:
    ws = f"/w/{workspace.pk}"
    return [
        "/",
        "/workspaces/",
        "/workspaces/new/",
        f"{ws}/",
        f"{ws}/settings/",
        f"{ws}/members/",
        f"{ws}/audit/",
        f"{ws}/keys/",
        f"{ws}/keys/new/",
        f"{ws}/keys/{key.public_id}/",
        f"{ws}/keys/{key.public_id}/edit/",
        f"{ws}/usage/",
        f"{ws}/webhooks/",
        f"{ws}/webhooks/new/",
        f"{ws}/webhooks/{WebhookEndpoint.objects.get(workspace=workspace).pk}/",
        "/account/profile/",
        "/account/preferences/",
        "/account/security/",
        "/account/activity/",
        "/privacy/",
        "/privacy/requests/",
        "/privacy/requests/new/",
        "/privacy/settings/",
        f"/privacy/workspaces/{workspace.pk}/",
        "/privacy/cookies/",
        "/privacy/cookies/history/",
    ]


def _violations(axe, page) -> list[str]:
    results = axe.run(
        page,
        options={"runOnly": {"type": "tag", "values": WCAG_TAGS}, "resultTypes": ["violations"]},
    )
    return [
        f"{violation['id']} ({violation['impact']}): {violation['help']} at "
        + ", ".join(" ".join(node["target"]) for node in violation["nodes"][:5])
        for violation in results.response["violations"]
    ]


def test_every_dashboard_page_has_no_wcag_violations(page):
    user = UserFactory(email="ada@example.com")
    workspace, keys = _dashboard(user)
    sign_in(page, email=user.email)
    axe = Axe()
    found = {}
    for width_name, (width, height) in VIEWPORTS.items():
        page.set_viewport_size({"width": width, "height": height})
        for path in _pages(workspace, keys[0]):
            response = page.goto(path)
            assert response.status == 200, f"{path}: {response.status}"
            page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
            violations = _violations(axe, page)
            if violations:
                found[f"{path} ({width_name})"] = violations
    assert found == {}, "\n".join(f"{where}: {v}" for where, vs in found.items() for v in vs)


def test_the_usage_tables_are_reachable_by_keyboard(page):
    user = UserFactory(email="kim@example.com")
    workspace, _keys = _dashboard(user)
    sign_in(page, email=user.email)
    page.set_viewport_size({"width": 375, "height": 740})
    page.goto(f"/w/{workspace.pk}/usage/")
    page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
    regions = page.locator(".table-wrap")
    assert regions.count() == 3
    for index in range(regions.count()):
        region = regions.nth(index)
        assert region.get_attribute("tabindex") == "0"
        assert region.get_attribute("role") == "region"
        assert region.get_attribute("aria-label")
        region.focus()
        assert page.evaluate("document.activeElement.classList.contains('table-wrap')")
