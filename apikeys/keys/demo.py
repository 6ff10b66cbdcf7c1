"""Sample API keys for the local demo workspace (a `demo_setup` seeder)."""

from __future__ import annotations

from apikeys.keys.models import ApiKey
from apikeys.keys.tokens import Environment

DEMO_KEYS = (
    ("Demo development key", Environment.DEVELOPMENT, ["models.read", "inference"]),
    (
        "Demo production key",
        Environment.PRODUCTION,
        ["models.read", "inference", "usage.read"],
    ),
)


def api_keys_demo_seed(*, user, workspace) -> list[str]:
    """Give the demo workspace a development and a production key, once.

    The secrets are dropped at once: nobody can use these keys, and nothing prints or
    stores them. A key of one's own, created on the keys page, shows its secret once.
    """
    from apikeys.keys.services import api_key_create

    existing = set(ApiKey.objects.visible().for_workspace(workspace).values_list("name", flat=True))
    created = 0
    for name, environment, scopes in DEMO_KEYS:
        if name in existing:
            continue
        api_key_create(
            workspace=workspace, actor=user, name=name, environment=environment, scopes=scopes
        )
        created += 1
    if not created:
        return []
    return [f"API keys: {created} demo keys created (create your own to see a secret)."]
