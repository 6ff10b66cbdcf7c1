"""Budget alerts at usage ingestion (apikeys.usage.services.budget_alerts_check): one email
and one webhook event per threshold, budget and month, also under concurrent batches."""

import json
import threading

import pytest
import time_machine
from django.db import connection

from accounts.models import OutboundEmail
from accounts.permissions import Role
from accounts.services import workspace_settings_update
from accounts.webhooks import events
from accounts.webhooks.models import WebhookMessage
from accounts.webhooks.services import webhook_endpoint_create
from apikeys.keys.services import api_key_update
from apikeys.usage.models import BudgetAlert
from apikeys.usage.services import usage_records_ingest
from tests.accounts.webhooks.receiver import Receiver
from tests.apikeys.usage_support import NOW, make_key, usage_event
from tests.factories import add_member

# Verify plays no part here: one Redis is enough.
pytestmark = pytest.mark.single_redis


@pytest.fixture
def receiver():
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture
def endpoint(workspace, user, receiver):
    endpoint, _secret = webhook_endpoint_create(
        workspace=workspace,
        url=receiver.url,
        event_types=[events.USAGE_BUDGET_THRESHOLD_CROSSED],
        description="budget alerts",
        actor=user,
    )
    return endpoint


def _ingest(api_key, tokens: int, *, count: int = 1, **overrides):
    return usage_records_ingest(
        events=[
            usage_event(api_key, input_tokens=tokens, output_tokens=0, **overrides)
            for _ in range(count)
        ],
        received_at=NOW,
    )


def _alert_emails():
    return [email for email in OutboundEmail.objects.order_by("pk") if email.kind == "budget_alert"]


@pytest.mark.django_db
def test_each_crossed_threshold_of_a_key_sends_one_email_and_one_event(workspace, user, endpoint):
    admin = add_member(workspace, role=Role.ADMIN)
    developer = add_member(workspace, role=Role.DEVELOPER)
    api_key = make_key(workspace)
    api_key_update(api_key=api_key, actor=user, monthly_token_budget=1000)
    with time_machine.travel(NOW, tick=False):
        _ingest(api_key, 450)
        assert not BudgetAlert.objects.exists()
        _ingest(api_key, 400)  # 850: 50 % and 80 % at once
        _ingest(api_key, 100)  # 950: nothing new
        _ingest(api_key, 50)  # 1000: 100 %
        _ingest(api_key, 500)  # beyond: nothing new
    alerts = list(BudgetAlert.objects.order_by("threshold_percent"))
    assert [(a.scope, a.period, a.threshold_percent) for a in alerts] == [
        ("key", "2026-03", 50),
        ("key", "2026-03", 80),
        ("key", "2026-03", 100),
    ]
    assert [a.used_tokens for a in alerts] == [850, 850, 1000]
    emails = _alert_emails()
    assert len(emails) == 3
    assert set(json.loads(emails[0].recipients)) == {user.email, admin.user.email}
    assert developer.user.email not in emails[0].recipients
    assert "80%" in emails[1].subject and "Backend" in emails[1].subject
    # Message ids are random: order by threshold.
    messages = sorted(
        WebhookMessage.objects.all(), key=lambda m: m.payload["data"]["threshold_percent"]
    )
    assert len(messages) == 3
    assert messages[1].event_type == "usage.budget_threshold_crossed"
    assert messages[1].payload["data"] == {
        "scope": "key",
        "workspace_id": str(workspace.pk),
        "api_key_id": api_key.public_id,
        "threshold_percent": 80,
        "budget_tokens": 1000,
        "used_tokens": 850,
        "period": "2026-03",
    }


@pytest.mark.django_db
def test_a_workspace_budget_alerts_on_all_its_keys_usage_with_its_own_thresholds(
    workspace, user, endpoint
):
    workspace_settings_update(
        workspace=workspace,
        actor=user,
        monthly_token_budget=2000,
        budget_alert_thresholds=[90, 25],
    )
    first, second = make_key(workspace), make_key(workspace, name="Batch")
    with time_machine.travel(NOW, tick=False):
        _ingest(first, 400)
        _ingest(second, 200)  # 600: 25 %
        _ingest(second, 1200)  # 1800: 90 %
    alerts = list(BudgetAlert.objects.order_by("threshold_percent"))
    assert [(a.scope, a.api_key_id, a.threshold_percent, a.used_tokens) for a in alerts] == [
        ("workspace", None, 25, 600),
        ("workspace", None, 90, 1800),
    ]
    for message in WebhookMessage.objects.all():
        data = message.payload["data"]
        assert data["scope"] == "workspace" and "api_key_id" not in data
    assert len(_alert_emails()) == 2


@pytest.mark.django_db
def test_no_budget_or_no_thresholds_means_no_alerts(workspace, user, endpoint):
    api_key = make_key(workspace)
    other = make_key(workspace, name="Quiet")
    api_key_update(api_key=other, actor=user, monthly_token_budget=10, budget_alert_thresholds=[])
    with time_machine.travel(NOW, tick=False):
        _ingest(api_key, 10**6)
        _ingest(other, 10**6)
    assert not BudgetAlert.objects.exists()
    assert not _alert_emails()
    assert not WebhookMessage.objects.exists()


@pytest.mark.django_db
def test_a_new_month_alerts_again(workspace, user):
    api_key = make_key(workspace)
    api_key_update(
        api_key=api_key, actor=user, monthly_token_budget=100, budget_alert_thresholds=[100]
    )
    with time_machine.travel(NOW, tick=False):
        _ingest(api_key, 100)
    april = NOW.replace(month=4, day=2)
    with time_machine.travel(april, tick=False):
        usage_records_ingest(
            events=[usage_event(api_key, occurred_at=april, input_tokens=150, output_tokens=0)],
            received_at=april,
        )
    assert sorted(BudgetAlert.objects.values_list("period", flat=True)) == ["2026-03", "2026-04"]
    assert len(_alert_emails()) == 2


@pytest.mark.django_db(transaction=True)
def test_concurrent_batches_crossing_a_threshold_make_one_alert_one_email_one_event(
    workspace, user, endpoint, receiver
):
    """Twelve threads, each its own database connection, report usage across the same
    thresholds of a key and of its workspace at once."""
    workspace_settings_update(
        workspace=workspace,
        actor=user,
        monthly_token_budget=12_000,
        budget_alert_thresholds=[50, 100],
    )
    api_key = make_key(workspace)
    api_key_update(
        api_key=api_key, actor=user, monthly_token_budget=6000, budget_alert_thresholds=[100]
    )
    barrier = threading.Barrier(12)
    errors = []

    def worker(index):
        try:
            barrier.wait()
            with time_machine.travel(NOW, tick=False):
                for _ in range(2):
                    # Different models write different rollup rows: nothing else orders
                    # the batches.
                    _ingest(api_key, 500, model=f"model-{index}")
        except Exception as error:  # reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    # 12 threads x 2 batches x 500 = 12,000 tokens: the key's 100 %, the workspace's 50
    # and 100 %.
    rows = sorted(BudgetAlert.objects.values_list("scope", "threshold_percent"))
    assert rows == [("key", 100), ("workspace", 50), ("workspace", 100)]
    assert len(_alert_emails()) == 3
    assert WebhookMessage.objects.count() == 3
    workspace_alert = BudgetAlert.objects.get(scope="workspace", threshold_percent=100)
    assert workspace_alert.used_tokens == 12_000
