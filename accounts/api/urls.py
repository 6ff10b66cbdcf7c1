"""REST routes of accounts under /api/v1/."""

from django.urls import path

from accounts.api import views

WS = "workspaces/<uuid:workspace_id>/"

urlpatterns = [
    path("me/", views.MeView.as_view(), name="api-me"),
    path("workspaces/", views.WorkspaceListView.as_view(), name="api-workspace-list"),
    path(WS, views.WorkspaceDetailView.as_view(), name="api-workspace-detail"),
    path(
        f"{WS}transfer-ownership/",
        views.WorkspaceTransferOwnershipView.as_view(),
        name="api-workspace-transfer-ownership",
    ),
    path(f"{WS}members/", views.MemberListView.as_view(), name="api-member-list"),
    path(
        f"{WS}members/<int:user_id>/",
        views.MemberDetailView.as_view(),
        name="api-member-detail",
    ),
    path(f"{WS}invitations/", views.InvitationListView.as_view(), name="api-invitation-list"),
    path(
        f"{WS}invitations/<int:invitation_id>/resend/",
        views.InvitationResendView.as_view(),
        name="api-invitation-resend",
    ),
    path(
        f"{WS}invitations/<int:invitation_id>/revoke/",
        views.InvitationRevokeView.as_view(),
        name="api-invitation-revoke",
    ),
    path(f"{WS}audit-events/", views.AuditEventListView.as_view(), name="api-audit-event-list"),
]
