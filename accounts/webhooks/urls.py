"""REST routes of webhooks, under /api/v1/ (the pages are in accounts.urls_workspaces)."""

from django.urls import path

from accounts.webhooks import api

WS = "workspaces/<uuid:workspace_id>/webhooks/"
EP = WS + "<uuid:endpoint_id>/"

api_urlpatterns = [
    path(WS, api.WebhookEndpointListView.as_view(), name="api-webhook-list"),
    path(EP, api.WebhookEndpointDetailView.as_view(), name="api-webhook-detail"),
    path(
        f"{EP}rotate-secret/",
        api.WebhookRotateSecretView.as_view(),
        name="api-webhook-rotate-secret",
    ),
    path(f"{EP}messages/", api.WebhookMessageListView.as_view(), name="api-webhook-messages"),
    path(
        f"{EP}messages/<str:message_id>/resend/",
        api.WebhookMessageResendView.as_view(),
        name="api-webhook-message-resend",
    ),
    path(f"{EP}attempts/", api.WebhookAttemptListView.as_view(), name="api-webhook-attempts"),
]
