"""URLs of the workspace pages (workspaces, members, invitations, audit log)."""

from django.urls import path

from accounts.views import webhooks
from accounts.views import workspaces as views

WEBHOOKS = "w/<uuid:workspace_id>/webhooks/"
WEBHOOK = WEBHOOKS + "<uuid:endpoint_id>/"

urlpatterns = [
    path("workspaces/", views.workspace_list, name="workspace_list"),
    path("workspaces/new/", views.workspace_create, name="workspace_create"),
    path("w/<uuid:workspace_id>/", views.workspace_detail, name="workspace_detail"),
    path("w/<uuid:workspace_id>/leave/", views.workspace_leave, name="workspace_leave"),
    path("w/<uuid:workspace_id>/settings/", views.workspace_settings, name="workspace_settings"),
    path(
        "w/<uuid:workspace_id>/settings/transfer/",
        views.workspace_transfer,
        name="workspace_transfer",
    ),
    path("w/<uuid:workspace_id>/settings/delete/", views.workspace_delete, name="workspace_delete"),
    path("w/<uuid:workspace_id>/members/", views.workspace_members, name="workspace_members"),
    path("w/<uuid:workspace_id>/members/invite/", views.workspace_invite, name="workspace_invite"),
    path(
        "w/<uuid:workspace_id>/members/<int:user_id>/role/",
        views.member_role_change,
        name="member_role_change",
    ),
    path(
        "w/<uuid:workspace_id>/members/<int:user_id>/remove/",
        views.member_remove,
        name="member_remove",
    ),
    path(
        "w/<uuid:workspace_id>/invitations/<int:invitation_id>/resend/",
        views.invitation_resend,
        name="invitation_resend",
    ),
    path(
        "w/<uuid:workspace_id>/invitations/<int:invitation_id>/revoke/",
        views.invitation_revoke,
        name="invitation_revoke",
    ),
    path("w/<uuid:workspace_id>/audit/", views.workspace_audit, name="workspace_audit"),
    path(WEBHOOKS, webhooks.webhook_list, name="webhook_list"),
    path(f"{WEBHOOKS}new/", webhooks.webhook_create, name="webhook_create"),
    path(WEBHOOK, webhooks.webhook_detail, name="webhook_detail"),
    path(f"{WEBHOOK}rotate/", webhooks.webhook_rotate, name="webhook_rotate"),
    path(f"{WEBHOOK}delete/", webhooks.webhook_delete, name="webhook_delete"),
    path(
        f"{WEBHOOK}messages/<str:message_id>/resend/",
        webhooks.webhook_resend,
        name="webhook_resend",
    ),
    path(
        "w/<uuid:workspace_id>/audit/export.csv",
        views.workspace_audit_csv,
        name="workspace_audit_csv",
    ),
    path(
        "invitations/<int:invitation_id>/accept/",
        views.invitation_accept_by_id,
        name="invitation_accept_by_id",
    ),
    path("invitations/<str:token>/", views.invitation_accept, name="invitation_accept"),
]
