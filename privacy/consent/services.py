"""Writes of cookie consent: each choice recorded as proof, Global Privacy Control
honoured, and a browser's choices linked to the account that signs in from it.

Each service is atomic and writes its audit event in the same transaction.
"""

from __future__ import annotations

import uuid

from django.core.cache import cache
from django.db import IntegrityError, transaction

from accounts import request_context
from accounts.audit import audit_record
from accounts.errors import DomainError
from accounts.models import User
from privacy.consent.cookies import ip_hash
from privacy.consent.models import ConsentMethod, ConsentRecord
from privacy.data_use.services import privacy_settings_update
from privacy.policies.models import (
    PolicyKind,
)
from privacy.policies.selectors import policy_current


class ConsentAction:
    """Audit actions of cookie consent."""

    CONSENT_RECORDED = "privacy.consent_recorded"
    CONSENT_LINKED = "privacy.consent_linked"


def _client(ip_address: str | None, user_agent: str | None) -> tuple[str, str]:
    ctx = request_context.current()
    ip = ip_address if ip_address is not None else ctx.ip_address
    agent = user_agent if user_agent is not None else ctx.user_agent
    return ip_hash(ip), (agent or "")[:512]


def _signed_in(user) -> User | None:
    return user if getattr(user, "is_authenticated", False) else None


@transaction.atomic
def consent_record(
    *,
    visitor_id: uuid.UUID,
    user: User | None = None,
    preferences: bool,
    analytics: bool,
    marketing: bool,
    method: str,
    gpc: bool = False,
    ip_address: str | None = None,
    user_agent: str | None = None,
) -> ConsentRecord:
    """Record one consent decision as proof; GPC keeps analytics and marketing off."""
    if method not in ConsentMethod.values or method == ConsentMethod.GPC:
        raise DomainError("Unknown consent method.", fields={"method": ["Not a valid method."]})
    if not isinstance(visitor_id, uuid.UUID):
        raise DomainError("A visitor id is required.", fields={"visitor_id": ["Invalid."]})
    if gpc:
        analytics = marketing = False
    user = _signed_in(user)
    hashed_ip, agent = _client(ip_address, user_agent)
    from privacy.consent.cookies import BANNER_TEXT_VERSION

    record = ConsentRecord.objects.create(
        visitor_id=visitor_id,
        user=user,
        preferences=bool(preferences),
        analytics=bool(analytics),
        marketing=bool(marketing),
        cookie_policy_version=policy_current(kind=PolicyKind.COOKIE),
        banner_version=BANNER_TEXT_VERSION,
        method=method,
        gpc=gpc,
        ip_hash=hashed_ip,
        user_agent=agent,
    )
    if user is not None:
        audit_record(
            action=ConsentAction.CONSENT_RECORDED,
            actor=user,
            subject_user=user,
            target=record,
            metadata={"categories": record.categories, "method": method, "gpc": gpc},
        )
        if gpc:
            privacy_settings_update(user=user, do_not_sell_or_share=True, source="gpc")
    return record


_GPC_SEEN_KEY = "privacy:gpc-seen:{visitor}:{version}:{user}"


def consent_gpc_record(
    *,
    visitor_id: uuid.UUID,
    user: User | None = None,
    preferences: bool = False,
    ip_address: str | None = None,
    user_agent: str | None = None,
) -> ConsentRecord | None:
    """Honour a Global Privacy Control signal: record it once per visitor and policy version.

    Return the new record, or None when this visitor's signal is already on file. For a
    signed-in user it also turns on "do not sell or share".
    """
    user = _signed_in(user)
    version = policy_current(kind=PolicyKind.COOKIE)
    seen_key = _GPC_SEEN_KEY.format(
        visitor=visitor_id, version=version.pk if version else 0, user=user.pk if user else 0
    )
    # Checked on every request carrying the header, so skip the database once recorded.
    if cache.get(seen_key):
        return None
    record = _consent_gpc_write(visitor_id, user, version, preferences, ip_address, user_agent)
    cache.set(seen_key, 1, timeout=24 * 3600)
    return record


@transaction.atomic
def _consent_gpc_write(visitor_id, user, version, preferences, ip_address, user_agent):
    from privacy.consent.cookies import BANNER_TEXT_VERSION

    record = None
    on_file = ConsentRecord.objects.filter(
        visitor_id=visitor_id, cookie_policy_version=version, method=ConsentMethod.GPC
    ).exists()
    if not on_file:
        hashed_ip, agent = _client(ip_address, user_agent)
        try:
            with transaction.atomic():
                record = ConsentRecord.objects.create(
                    visitor_id=visitor_id,
                    user=user,
                    preferences=bool(preferences),
                    analytics=False,
                    marketing=False,
                    cookie_policy_version=version,
                    banner_version=BANNER_TEXT_VERSION,
                    method=ConsentMethod.GPC,
                    gpc=True,
                    ip_hash=hashed_ip,
                    user_agent=agent,
                )
        except IntegrityError:
            # A concurrent request of the same browser recorded it first.
            record = None
    if user is not None:
        if record is not None:
            audit_record(
                action=ConsentAction.CONSENT_RECORDED,
                actor=user,
                subject_user=user,
                target=record,
                metadata={"categories": record.categories, "method": "gpc", "gpc": True},
            )
        privacy_settings_update(user=user, do_not_sell_or_share=True, source="gpc")
    return record


@transaction.atomic
def consent_link_visitor(*, user: User, visitor_id: uuid.UUID | None) -> int:
    """Attach consent given in this browser before sign-in to the account; return how many."""
    if visitor_id is None or not getattr(user, "is_authenticated", False):
        return 0
    records = ConsentRecord.objects.filter(visitor_id=visitor_id, user__isnull=True)
    gpc_on_file = records.filter(method=ConsentMethod.GPC).exists()
    linked = records.update(user=user)
    if linked:
        audit_record(
            action=ConsentAction.CONSENT_LINKED,
            actor=user,
            subject_user=user,
            metadata={"records": linked},
        )
    if gpc_on_file:
        privacy_settings_update(user=user, do_not_sell_or_share=True, source="gpc")
    return linked
