"""Reads of processors' actions."""

from __future__ import annotations

from privacy.processors.models import ProcessorAction


def processor_actions_for_request(*, privacy_request_id) -> list[ProcessorAction]:
    """Return the actions of one privacy request, with their processors, oldest first.

    The caller has already checked that the request is the reader's own.
    """
    return list(
        ProcessorAction.objects.for_request(privacy_request_id)
        .select_related("processor")
        .order_by("processor__name", "pk")
    )
