"""factory-boy factories. Workspaces and memberships go through the services so audit
events and invariants match production."""

import factory
from allauth.account.models import EmailAddress

from accounts.models import Membership, User
from accounts.permissions import Role
from accounts.services import workspace_create

DEFAULT_PASSWORD = "correct horse battery staple 42"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    name = factory.Faker("name")

    @factory.post_generation
    def password(obj, create, extracted, **kwargs):
        obj.set_password(extracted or DEFAULT_PASSWORD)
        if create:
            obj.save(update_fields=["password"])

    @factory.post_generation
    def verified(obj, create, extracted, **kwargs):
        if create and extracted is not False:
            EmailAddress.objects.create(user=obj, email=obj.email, verified=True, primary=True)


class WorkspaceFactory:
    """Create a workspace owned by `owner` through the service."""

    def __new__(cls, *, owner=None, name="Acme"):
        owner = owner or UserFactory()
        return workspace_create(user=owner, name=name)


def add_member(workspace, role: str = Role.DEVELOPER, user=None) -> Membership:
    user = user or UserFactory()
    return Membership.objects.create(workspace=workspace, user=user, role=role)


def api_key_row(workspace, *, n: int = 0, created_by=None):
    """A stored key with a dummy hash, for tests that need key rows, never a secret."""
    from apikeys.keys.models import ApiKey

    return ApiKey.objects.create(
        workspace=workspace,
        created_by=created_by,
        public_id=f"pk{workspace.pk.hex[:8]}{n}",
        name=f"key {n}",
        environment="development",
        secret_hash="0" * 64,
        pepper_id="p1",
        last_four="abcd",
    )


def usage_rows_load(workspace, key, count, *, start=None):
    """Insert `count` usage rows for one workspace with generate_series (fast)."""
    from datetime import timedelta

    from django.db import connection
    from django.utils import timezone

    start = start or timezone.now() - timedelta(days=1)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO apikeys_usagerecord (workspace_id, api_key_id, request_id, occurred_at,
                model, input_tokens, output_tokens, status, latency_ms, moderation, received_at)
            SELECT %s, %s, %s || g, %s + g * interval '1 millisecond', 'm', 1, 1, 200, 5,
                'none', now()
            FROM generate_series(1, %s) g
            """,
            [workspace.pk, key.pk, f"{workspace.pk.hex}-{key.pk}-", start, count],
        )
