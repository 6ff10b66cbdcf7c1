"""Reads of policy versions: the one in force, the public history, what awaits acknowledgement."""

from __future__ import annotations

from django.core.cache import cache
from django.db.models import QuerySet
from django.utils import timezone

from privacy.policies.models import PolicyAcceptance, PolicyKind, PolicyVersion

_CURRENT_CACHE_KEY = "privacy:policy-current:{kind}"
# Short, because a published version becomes current by the clock, not by a write.
_CURRENT_CACHE_SECONDS = 30


def policy_current(*, kind: str) -> PolicyVersion | None:
    """Return the version of a policy in force now (cached briefly; publishing clears it)."""
    key = _CURRENT_CACHE_KEY.format(kind=kind)
    pk = cache.get(key)
    if pk is None:
        version = PolicyVersion.objects.filter(kind=kind).effective().first()
        cache.set(key, version.pk if version else 0, _CURRENT_CACHE_SECONDS)
        return version
    if pk == 0:
        return None
    version = PolicyVersion.objects.filter(pk=pk).first()
    if version is None or (version.effective_at > timezone.now()):
        cache.delete(key)
        return policy_current(kind=kind)
    return version


def policy_current_cache_clear() -> None:
    cache.delete_many([_CURRENT_CACHE_KEY.format(kind=kind) for kind in PolicyKind.values])


def policy_versions_public(*, kind: str) -> QuerySet[PolicyVersion]:
    """Published versions of one policy, newest first, including announced future ones."""
    return PolicyVersion.objects.filter(kind=kind).published().order_by("-effective_at", "-pk")


def policy_version_get_public(*, kind: str, version: str) -> PolicyVersion | None:
    return PolicyVersion.objects.filter(kind=kind, version=version).published().first()


def policy_pending_acknowledgements(*, user) -> list[PolicyVersion]:
    """Material versions now in force that the user has neither accepted nor acknowledged."""
    if not getattr(user, "is_authenticated", False):
        return []
    pending = []
    for kind in PolicyKind.values:
        version = policy_current(kind=kind)
        if version is None or not version.material_change:
            continue
        if not PolicyAcceptance.objects.filter(user=user, policy_version=version).exists():
            pending.append(version)
    return pending
