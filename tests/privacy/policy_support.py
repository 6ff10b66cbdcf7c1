"""Published policies for tests: transactional tests flush the versions the data
migration seeds, so tests that need policies in force publish their own."""

from django.utils import timezone

from privacy.policies.models import PolicyVersion
from privacy.policies.services import policy_version_create, policy_version_publish
from tests.factories import UserFactory


def policies_in_force() -> dict[str, PolicyVersion]:
    """Return the privacy and cookie policies in force, publishing any that are missing."""
    found = {}
    staff = None
    for kind, title in (("privacy", "Privacy policy"), ("cookie", "Cookie policy")):
        version = PolicyVersion.objects.filter(kind=kind).effective().first()
        if version is None:
            staff = staff or UserFactory(is_staff=True)
            draft = policy_version_create(
                actor=staff,
                kind=kind,
                version="2025-01-15",
                title=title,
                body_markdown=f"## {title}\n\nThe first version.",
                effective_at=timezone.now(),
            )
            version = policy_version_publish(policy_version=draft, actor=staff)
        found[kind] = version
    return found
