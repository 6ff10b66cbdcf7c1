"""Reads with access checks. `workspace_get_for_user` is the one way from an id to a
workspace: missing, deleted, foreign and forbidden all answer the same NotFound."""

from __future__ import annotations

import uuid

from django.db.models import QuerySet

from accounts.errors import NotFound
from accounts.models import AuditEvent, Invitation, Membership, Workspace
from accounts.permissions import role_has_permission


def _as_uuid(value) -> uuid.UUID | None:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        return None


def membership_get(*, user, workspace_id) -> Membership | None:
    workspace_uuid = _as_uuid(workspace_id)
    if workspace_uuid is None or not getattr(user, "is_authenticated", False):
        return None
    return (
        Membership.objects.select_related("workspace")
        .filter(user=user, workspace_id=workspace_uuid, workspace__deleted_at__isnull=True)
        .first()
    )


def workspace_get_for_user(*, user, workspace_id, permission: str) -> Workspace:
    """Return the workspace if `user` is a member whose role grants `permission`.

    The membership is attached as `workspace.membership` for the caller's later checks.
    """
    membership = membership_get(user=user, workspace_id=workspace_id)
    if membership is None or not role_has_permission(membership.role, permission):
        raise NotFound()
    workspace = membership.workspace
    workspace.membership = membership
    return workspace


def workspaces_for_user(*, user) -> QuerySet[Workspace]:
    return Workspace.objects.for_user(user).order_by("-is_personal", "name")


def workspace_members(*, workspace: Workspace) -> QuerySet[Membership]:
    return workspace.memberships.select_related("user").order_by("created_at")


def workspace_invitations(*, workspace: Workspace) -> QuerySet[Invitation]:
    return workspace.invitations.select_related("invited_by").order_by("-created_at")


def invitations_pending_for_user(*, user) -> QuerySet[Invitation]:
    """Pending invitations addressed to one of the user's verified addresses.

    Invitations to workspaces the user already belongs to are left out: there is
    nothing to accept.
    """
    from allauth.account.models import EmailAddress

    if not getattr(user, "is_authenticated", False):
        return Invitation.objects.none()
    addresses = [
        address.lower()
        for address in EmailAddress.objects.filter(user=user, verified=True).values_list(
            "email", flat=True
        )
    ]
    return (
        Invitation.objects.pending()
        .filter(email__in=addresses, workspace__deleted_at__isnull=True)
        .exclude(workspace__memberships__user=user)
        .select_related("workspace", "invited_by")
        .order_by("-created_at")
    )


def audit_events_for_workspace(
    *, workspace: Workspace, action: str = "", actor_id=None, since=None, until=None
) -> QuerySet[AuditEvent]:
    events = AuditEvent.objects.filter(workspace_id=workspace.pk)
    return _filter_events(events, action=action, actor_id=actor_id, since=since, until=until)


def audit_events_for_user(
    *, user, action: str = "", since=None, until=None
) -> QuerySet[AuditEvent]:
    """Security events of one account (about it, whatever workspace)."""
    events = AuditEvent.objects.filter(subject_user_id=user.pk, workspace_id__isnull=True)
    return _filter_events(events, action=action, since=since, until=until)


def audit_events_about_user(*, user) -> QuerySet[AuditEvent]:
    """Every event about one account, in any workspace, newest first (for the staff who
    answer that person; each look is itself recorded by the caller)."""
    return AuditEvent.objects.filter(subject_user_id=user.pk).order_by("-occurred_at")


def _filter_events(events, *, action="", actor_id=None, since=None, until=None):
    if action:
        events = events.filter(action=action)
    if actor_id:
        events = events.filter(actor_id=actor_id)
    if since:
        events = events.filter(occurred_at__date__gte=since)
    if until:
        events = events.filter(occurred_at__date__lte=until)
    return events.order_by("-occurred_at", "-id")


def staff_emails_with_permission(*, app_label: str, codename: str) -> list[str]:
    """Addresses of active staff who hold a permission (through a role or directly)."""
    from django.db.models import Q

    from accounts.models import User

    held = {"content_type__app_label": app_label, "codename": codename}
    holders = Q(**{f"groups__permissions__{k}": v for k, v in held.items()}) | Q(
        **{f"user_permissions__{k}": v for k, v in held.items()}
    )
    return list(
        User.objects.filter(holders, is_active=True, is_staff=True)
        .values_list("email", flat=True)
        .distinct()
        .order_by("email")
    )
