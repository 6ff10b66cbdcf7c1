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


def _policy_current_all() -> list[PolicyVersion]:
    """The versions in force of every policy, in PolicyKind order: one cache round trip
    and one query on the usual path (every page shows the notices they feed)."""
    keys = {kind: _CURRENT_CACHE_KEY.format(kind=kind) for kind in PolicyKind.values}
    cached = cache.get_many(list(keys.values()))
    pks = [pk for pk in cached.values() if pk]
    found = (
        {version.pk: version for version in PolicyVersion.objects.filter(pk__in=pks)} if pks else {}
    )
    now = timezone.now()
    versions = []
    for kind, key in keys.items():
        pk = cached.get(key)
        if pk == 0:
            continue
        version = found.get(pk)
        if version is None or version.kind != kind or version.effective_at > now:
            version = policy_current(kind=kind)  # not cached, or stale: the slow path
        if version is not None:
            versions.append(version)
    return versions


def policy_pending_acknowledgements(*, user) -> list[PolicyVersion]:
    """Material versions now in force that the user has neither accepted nor acknowledged."""
    if not getattr(user, "is_authenticated", False):
        return []
    material = [version for version in _policy_current_all() if version.material_change]
    if not material:
        return []
    accepted = set(
        PolicyAcceptance.objects.filter(user=user, policy_version__in=material).values_list(
            "policy_version_id", flat=True
        )
    )
    return [version for version in material if version.pk not in accepted]
