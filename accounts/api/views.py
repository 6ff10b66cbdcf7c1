"""REST endpoints for the signed-in person, workspaces, members, invitations and audit.

Each workspace endpoint resolves its workspace with `workspace_get_for_user` and the
permission the method needs, so missing and forbidden answer the same 404. Writes go
through services; `accounts.rest.exception_handler` turns their errors into the one
error format.
"""

from __future__ import annotations

from django.db.models import OuterRef, Subquery
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from accounts import selectors, services
from accounts.api import serializers as s
from accounts.errors import Conflict, NotFound
from accounts.models import Membership
from accounts.permissions import Perm
from accounts.rest import UncountedPagination

ERRORS = {
    400: OpenApiResponse(s.ErrorSerializer, description="The input is not valid."),
    403: OpenApiResponse(s.ErrorSerializer, description="Not signed in, or a rule refused."),
    404: OpenApiResponse(s.ErrorSerializer, description="Missing, or not yours to see."),
    409: OpenApiResponse(s.ErrorSerializer, description="Conflicts with the current state."),
}


def _errors(*codes: int) -> dict:
    return {code: ERRORS[code] for code in codes}


class ApiView(GenericAPIView):
    """Base of every endpoint here: explicit serializers per method, no model guessing."""

    def parse(self, serializer_class, data):
        serializer = serializer_class(data=data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def paginated(self, queryset, serializer_class):
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(serializer_class(page, many=True).data)


class WorkspaceScopedView(ApiView):
    def workspace(self, permission: str):
        return selectors.workspace_get_for_user(
            user=self.request.user,
            workspace_id=self.kwargs["workspace_id"],
            permission=permission,
        )


def _with_my_role(workspace):
    workspace.my_role = workspace.membership.role
    return workspace


# ---------------------------------------------------------------------------- me


class MeView(ApiView):
    @extend_schema(
        operation_id="me_retrieve", responses={200: s.MeOutputSerializer, **_errors(403)}
    )
    def get(self, request):
        """Return the signed-in person's profile."""
        return Response(s.MeOutputSerializer(request.user).data)

    @extend_schema(
        operation_id="me_update",
        request=s.MeUpdateInputSerializer,
        responses={200: s.MeOutputSerializer, **_errors(400, 403)},
    )
    def patch(self, request):
        """Change the signed-in person's name."""
        data = self.parse(s.MeUpdateInputSerializer, request.data)
        user = services.user_profile_update(user=request.user, name=data["name"])
        return Response(s.MeOutputSerializer(user).data)


# ---------------------------------------------------------------------------- workspaces


class WorkspaceListView(ApiView):
    @extend_schema(
        operation_id="workspaces_list",
        responses={200: s.WorkspaceOutputSerializer(many=True), **_errors(403)},
    )
    def get(self, request):
        """List the workspaces you belong to, with your role in each."""
        role = Membership.objects.filter(workspace=OuterRef("pk"), user=request.user).values(
            "role"
        )[:1]
        workspaces = selectors.workspaces_for_user(user=request.user).annotate(
            my_role=Subquery(role)
        )
        return self.paginated(workspaces, s.WorkspaceOutputSerializer)

    @extend_schema(
        operation_id="workspaces_create",
        request=s.WorkspaceCreateInputSerializer,
        responses={201: s.WorkspaceOutputSerializer, **_errors(400, 403)},
    )
    def post(self, request):
        """Create a workspace; you become its owner."""
        data = self.parse(s.WorkspaceCreateInputSerializer, request.data)
        workspace = services.workspace_create(user=request.user, name=data["name"])
        workspace = selectors.workspace_get_for_user(
            user=request.user, workspace_id=workspace.pk, permission=Perm.WORKSPACE_VIEW
        )
        return Response(
            s.WorkspaceOutputSerializer(_with_my_role(workspace)).data,
            status=status.HTTP_201_CREATED,
        )


class WorkspaceDetailView(WorkspaceScopedView):
    @extend_schema(
        operation_id="workspaces_retrieve",
        responses={200: s.WorkspaceOutputSerializer, **_errors(403, 404)},
    )
    def get(self, request, workspace_id):
        """Return one workspace."""
        workspace = self.workspace(Perm.WORKSPACE_VIEW)
        return Response(s.WorkspaceOutputSerializer(_with_my_role(workspace)).data)

    @extend_schema(
        operation_id="workspaces_update",
        request=s.WorkspaceUpdateInputSerializer,
        responses={200: s.WorkspaceOutputSerializer, **_errors(400, 403, 404)},
    )
    def patch(self, request, workspace_id):
        """Rename the workspace and change its data-handling settings (owners, admins)."""
        workspace = self.workspace(Perm.WORKSPACE_UPDATE)
        data = dict(self.parse(s.WorkspaceUpdateInputSerializer, request.data))
        name = data.pop("name", None)
        services.workspace_update(workspace=workspace, actor=request.user, name=name, **data)
        return Response(s.WorkspaceOutputSerializer(_with_my_role(workspace)).data)

    @extend_schema(operation_id="workspaces_destroy", responses={204: None, **_errors(403, 404)})
    def delete(self, request, workspace_id):
        """Delete the workspace (owners only)."""
        workspace = self.workspace(Perm.WORKSPACE_DELETE)
        services.workspace_delete(workspace=workspace, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class WorkspaceTransferOwnershipView(WorkspaceScopedView):
    @extend_schema(
        operation_id="workspaces_transfer_ownership",
        request=s.WorkspaceTransferInputSerializer,
        responses={200: s.WorkspaceOutputSerializer, **_errors(400, 403, 404, 409)},
    )
    def post(self, request, workspace_id):
        """Make another member an owner; you step down to `keep_role` (owners only).

        The answer is the workspace as you now see it, with your new role.
        """
        workspace = self.workspace(Perm.WORKSPACE_TRANSFER)
        data = self.parse(s.WorkspaceTransferInputSerializer, request.data)
        target = (
            selectors.workspace_members(workspace=workspace).filter(user_id=data["user_id"]).first()
        )
        if target is None:
            raise Conflict(
                "The new owner must already be a member of this workspace.",
                fields={"user_id": ["Not a member of this workspace."]},
            )
        services.workspace_transfer_ownership(
            workspace=workspace,
            actor=request.user,
            new_owner=target.user,
            keep_actor_as=data["keep_role"],
        )
        # The membership attached to `workspace` still says owner; read the new one.
        workspace = self.workspace(Perm.WORKSPACE_VIEW)
        return Response(s.WorkspaceOutputSerializer(_with_my_role(workspace)).data)


# ---------------------------------------------------------------------------- members


class MemberListView(WorkspaceScopedView):
    # A management API key with this scope may read the list (apikeys.keys.auth).
    key_scopes = {"GET": "members.read"}

    @extend_schema(
        operation_id="workspaces_members_list",
        responses={200: s.MemberOutputSerializer(many=True), **_errors(403, 404)},
    )
    def get(self, request, workspace_id):
        """List the members of the workspace."""
        workspace = self.workspace(Perm.MEMBERS_VIEW)
        return self.paginated(
            selectors.workspace_members(workspace=workspace), s.MemberOutputSerializer
        )


class MemberDetailView(WorkspaceScopedView):
    def _membership(self, workspace, user_id):
        membership = (
            selectors.workspace_members(workspace=workspace).filter(user_id=user_id).first()
        )
        if membership is None:
            raise NotFound()
        return membership

    @extend_schema(
        operation_id="workspaces_members_update",
        request=s.MemberUpdateInputSerializer,
        responses={200: s.MemberOutputSerializer, **_errors(400, 403, 404, 409)},
    )
    def patch(self, request, workspace_id, user_id):
        """Change a member's role (owners, admins; never above your own)."""
        workspace = self.workspace(Perm.MEMBERS_MANAGE)
        membership = self._membership(workspace, user_id)
        data = self.parse(s.MemberUpdateInputSerializer, request.data)
        membership = services.membership_change_role(
            workspace=workspace, actor=request.user, membership=membership, role=data["role"]
        )
        return Response(s.MemberOutputSerializer(membership).data)

    @extend_schema(
        operation_id="workspaces_members_destroy",
        responses={204: None, **_errors(403, 404, 409)},
    )
    def delete(self, request, workspace_id, user_id):
        """Remove a member; your own id leaves the workspace."""
        leaving = user_id == request.user.pk
        workspace = self.workspace(Perm.WORKSPACE_VIEW if leaving else Perm.MEMBERS_MANAGE)
        membership = self._membership(workspace, user_id)
        services.membership_remove(workspace=workspace, actor=request.user, membership=membership)
        return Response(status=status.HTTP_204_NO_CONTENT)


# ---------------------------------------------------------------------------- invitations


class InvitationListView(WorkspaceScopedView):
    @extend_schema(
        operation_id="workspaces_invitations_list",
        responses={200: s.InvitationOutputSerializer(many=True), **_errors(403, 404)},
    )
    def get(self, request, workspace_id):
        """List the workspace's invitations, whatever their status."""
        workspace = self.workspace(Perm.INVITATIONS_MANAGE)
        return self.paginated(
            selectors.workspace_invitations(workspace=workspace), s.InvitationOutputSerializer
        )

    @extend_schema(
        operation_id="workspaces_invitations_create",
        request=s.InvitationCreateInputSerializer,
        responses={201: s.InvitationOutputSerializer, **_errors(400, 403, 404, 409)},
    )
    def post(self, request, workspace_id):
        """Invite an address; the link goes by email only and is valid for 7 days."""
        workspace = self.workspace(Perm.INVITATIONS_MANAGE)
        data = self.parse(s.InvitationCreateInputSerializer, request.data)
        invitation, _token = services.invitation_create(
            workspace=workspace, actor=request.user, email=data["email"], role=data["role"]
        )
        return Response(
            s.InvitationOutputSerializer(invitation).data, status=status.HTTP_201_CREATED
        )


class _InvitationActionView(WorkspaceScopedView):
    def invitation(self):
        workspace = self.workspace(Perm.INVITATIONS_MANAGE)
        invitation = (
            selectors.workspace_invitations(workspace=workspace)
            .filter(pk=self.kwargs["invitation_id"])
            .first()
        )
        if invitation is None:
            raise NotFound()
        return invitation


class InvitationResendView(_InvitationActionView):
    @extend_schema(
        operation_id="workspaces_invitations_resend",
        request=None,
        responses={200: s.InvitationOutputSerializer, **_errors(403, 404, 409)},
    )
    def post(self, request, workspace_id, invitation_id):
        """Send a fresh link with a fresh 7 days; the previous link stops working."""
        invitation, _token = services.invitation_resend(
            invitation=self.invitation(), actor=request.user
        )
        return Response(s.InvitationOutputSerializer(invitation).data)


class InvitationRevokeView(_InvitationActionView):
    @extend_schema(
        operation_id="workspaces_invitations_revoke",
        request=None,
        responses={200: s.InvitationOutputSerializer, **_errors(403, 404, 409)},
    )
    def post(self, request, workspace_id, invitation_id):
        """Revoke an invitation so its link stops working."""
        invitation = services.invitation_revoke(invitation=self.invitation(), actor=request.user)
        return Response(s.InvitationOutputSerializer(invitation).data)


# ---------------------------------------------------------------------------- audit events


class AuditEventListView(WorkspaceScopedView):
    key_scopes = {"GET": "audit.read"}
    # The log only grows: pages without a count cost the same at any size.
    pagination_class = UncountedPagination

    @extend_schema(
        operation_id="workspaces_audit_events_list",
        parameters=[s.AuditEventFilterSerializer],
        responses={200: s.AuditEventOutputSerializer(many=True), **_errors(400, 403, 404)},
    )
    def get(self, request, workspace_id):
        """List the workspace's audit events, newest first (owners, admins)."""
        workspace = self.workspace(Perm.AUDIT_VIEW)
        filters = self.parse(s.AuditEventFilterSerializer, request.query_params)
        events = selectors.audit_events_for_workspace(
            workspace=workspace,
            action=filters.get("action", ""),
            actor_id=filters.get("actor"),
            since=filters.get("since"),
            until=filters.get("until"),
        )
        return self.paginated(events, s.AuditEventOutputSerializer)
