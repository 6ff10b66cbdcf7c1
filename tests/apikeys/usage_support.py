"""Helpers shared by the usage tests: keys made through the service, and events."""

from __future__ import annotations

import datetime as dt
import itertools

from apikeys.keys.services import api_key_create
from apikeys.keys.tokens import Environment

GATEWAY_AUTH = {"HTTP_AUTHORIZATION": "Bearer test-gateway-token"}
# A fixed instant well inside a UTC day, so "today" and "yesterday" never straddle midnight.
NOW = dt.datetime(2026, 3, 15, 12, 0, tzinfo=dt.UTC)
TODAY = NOW.date()

_request_ids = itertools.count(1)


def make_key(workspace, *, name="Backend", actor=None):
    """Create a key in `workspace` through the service (the actor defaults to its creator)."""
    api_key, _full = api_key_create(
        workspace=workspace,
        actor=actor or workspace.created_by,
        name=name,
        environment=Environment.DEVELOPMENT,
        scopes=["inference"],
    )
    return api_key


def event(api_key, **overrides) -> dict:
    """Return one usage event as the gateway sends it (JSON-ready)."""
    body = {
        "request_id": f"req-{next(_request_ids)}",
        "key_id": api_key.public_id if hasattr(api_key, "public_id") else api_key,
        "occurred_at": NOW.isoformat(),
        "model": "large-1",
        "input_tokens": 100,
        "output_tokens": 20,
        "status": 200,
        "latency_ms": 350,
        "moderation": "none",
        "client_ip": "203.0.113.7",
    }
    body.update(overrides)
    return body


def usage_event(api_key, **overrides):
    """Return one checked usage event for the service."""
    from apikeys.usage.services import UsageEvent

    body = event(api_key)
    body["occurred_at"] = NOW
    body.update(overrides)
    return UsageEvent(**body)
