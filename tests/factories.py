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
