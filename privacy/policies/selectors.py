"""Reads for the privacy center, with their access rules."""

from __future__ import annotations

import uuid

from django.core.cache import cache
from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.errors import NotFound
from privacy.consent import (
    CONSENT_COOKIE,
    VISITOR_COOKIE,
    ConsentState,
    gpc_requested,
    parse_choice,
    parse_visitor_id,
)
from privacy.models import (
    ConsentRecord,
    PolicyAcceptance,
    PolicyVersion,
    PrivacyRequest,
    PrivacySettings,
)
from privacy.models.policy import PolicyKind

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


def consent_state_for_request(request) -> ConsentState:
    """Read the visitor's consent from their cookies against the current cookie policy."""
    version = policy_current(kind=PolicyKind.COOKIE)
    visitor_id = getattr(request, "consent_visitor_id", None) or parse_visitor_id(
        request.COOKIES.get(VISITOR_COOKIE)
    )
    return ConsentState(
        visitor_id=visitor_id,
        policy_version_id=version.pk if version else None,
        policy_version_label=version.version if version else "",
        choice=parse_choice(request.COOKIES.get(CONSENT_COOKIE)),
        gpc=gpc_requested(request),
    )


def consent_records_visible(*, user=None, visitor_id: uuid.UUID | None = None):
    """Consent records a person may see: their account's and their own browser's."""
    condition = Q()
    if getattr(user, "is_authenticated", False):
        condition |= Q(user=user)
    if visitor_id is not None:
        # Records of this browser made while signed in to another account stay private.
        visitor = Q(visitor_id=visitor_id, user__isnull=True)
        if getattr(user, "is_authenticated", False):
            visitor = Q(visitor_id=visitor_id) & (Q(user__isnull=True) | Q(user=user))
        condition |= visitor
    if not condition:
        return ConsentRecord.objects.none()
    return (
        ConsentRecord.objects.filter(condition)
        .select_related("cookie_policy_version")
        .latest_first()
    )


def privacy_settings_for_user(*, user) -> PrivacySettings:
    """The user's privacy settings; an unsaved row with every default if none exist yet."""
    found = PrivacySettings.objects.filter(user=user).first()
    return found or PrivacySettings(user=user)


def privacy_request_get_for_user(*, user, request_id) -> PrivacyRequest:
    """Return one of the user's own requests; anyone else's, or none, is NotFound."""
    found = PrivacyRequest.objects.for_user(user).filter(pk=request_id).first()
    if found is None:
        raise NotFound()
    return found
