"""The demo seeder: two keys for the demo workspace, once, and no secret anywhere."""

import re
from io import StringIO

import pytest
from django.core.management import call_command

from accounts.management.commands import demo_setup
from accounts.models import AuditEvent, Workspace
from apikeys.keys.demo import DEMO_KEYS, api_keys_demo_seed
from apikeys.keys.models import ApiKey
from apikeys.usage.models import UsageRecord

pytestmark = pytest.mark.django_db

FULL_KEY = re.compile(r"cnsl_(dev|prod)_[0-9A-Za-z]{12}_[0-9A-Za-z]{40,}")


def test_seeder_creates_a_development_and_a_production_key_once(user, workspace):
    lines = api_keys_demo_seed(user=user, workspace=workspace)
    assert lines and not any(FULL_KEY.search(line) for line in lines)
    keys = ApiKey.objects.filter(workspace=workspace)
    assert sorted(keys.values_list("environment", flat=True)) == ["development", "production"]
    assert set(keys.values_list("name", flat=True)) == {name for name, _env, _s in DEMO_KEYS}
    assert (
        AuditEvent.objects.filter(workspace_id=workspace.pk, action="api_key.created").count() == 2
    )

    assert api_keys_demo_seed(user=user, workspace=workspace) == []
    assert ApiKey.objects.filter(workspace=workspace).count() == 2


def test_demo_setup_seeds_keys_before_usage_and_prints_no_secret():
    assert demo_setup.DEMO_SEEDERS.index("apikeys.keys.demo.api_keys_demo_seed") < (
        demo_setup.DEMO_SEEDERS.index("apikeys.usage.demo.usage_demo_seed")
    )
    out = StringIO()
    call_command("demo_setup", force=True, stdout=out)
    call_command("demo_setup", force=True, stdout=out)

    workspace = Workspace.objects.get(name=demo_setup.DEMO_WORKSPACE)
    names = set(ApiKey.objects.filter(workspace=workspace).values_list("name", flat=True))
    assert {name for name, _env, _s in DEMO_KEYS} <= names
    assert ApiKey.objects.filter(workspace=workspace, name__startswith="Demo ").count() == len(
        names
    )
    # The usage seeder found the demo keys and spread its sample requests over them.
    used = set(
        UsageRecord.objects.filter(workspace=workspace).values_list("api_key__name", flat=True)
    )
    assert {name for name, _env, _s in DEMO_KEYS} <= used
    assert not FULL_KEY.search(out.getvalue())
