"""Reads of support requests, with their access rules."""

from __future__ import annotations

from accounts.errors import NotFound
from support.models import SupportAttachment, SupportMessage, SupportRequest


def support_request_get_for_user(*, user, request_id) -> SupportRequest:
    """Return one of the user's own requests; anyone else's, or none, is NotFound."""
    found = SupportRequest.objects.for_user(user).filter(pk=request_id).first()
    if found is None:
        raise NotFound()
    return found


def support_thread(*, request: SupportRequest):
    """The messages the requester may see (never staff notes), with their attachments."""
    return (
        SupportMessage.objects.filter(request=request, internal=False)
        .select_related("request")
        .prefetch_related("attachments")
        .order_by("created_at", "id")
    )


def support_attachment_get_for_user(*, user, request_id, attachment_id) -> SupportAttachment:
    """Return an attachment of one of the user's own requests, from a visible message."""
    request = support_request_get_for_user(user=user, request_id=request_id)
    found = SupportAttachment.objects.filter(
        pk=attachment_id, request=request, message__internal=False
    ).first()
    if found is None:
        raise NotFound()
    return found
