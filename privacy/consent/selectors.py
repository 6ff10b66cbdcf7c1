"""Reads of cookie consent: the visitor's state and the records a person may see."""

from __future__ import annotations

import uuid

from django.db.models import Q

from privacy.consent.cookies import (
    CONSENT_COOKIE,
    VISITOR_COOKIE,
    ConsentState,
    gpc_requested,
    parse_choice,
    parse_visitor_id,
)
from privacy.consent.models import ConsentRecord
from privacy.policies.models import PolicyKind
from privacy.policies.selectors import policy_current


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
