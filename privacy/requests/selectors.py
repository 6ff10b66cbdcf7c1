"""Reads of privacy requests, with their access rules."""

from __future__ import annotations

from accounts.errors import NotFound
from privacy.requests.models import PrivacyRequest


def privacy_request_get_for_user(*, user, request_id) -> PrivacyRequest:
    """Return one of the user's own requests; anyone else's, or none, is NotFound."""
    found = PrivacyRequest.objects.for_user(user).filter(pk=request_id).first()
    if found is None:
        raise NotFound()
    return found
