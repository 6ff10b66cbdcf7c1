"""REST routes of API keys under /api/v1/."""

from django.urls import path

from apikeys.api import views
from apikeys.api.verify import verify_endpoint

WS = "workspaces/<uuid:workspace_id>/"
KEY = f"{WS}keys/<str:key_id>/"

urlpatterns = [
    path("keys/verify", verify_endpoint, name="api-key-verify"),
    path("keys/report-leak", views.ApiKeyLeakReportView.as_view(), name="api-key-report-leak"),
    path(f"{WS}keys/", views.ApiKeyListView.as_view(), name="api-key-list"),
    path(KEY, views.ApiKeyDetailView.as_view(), name="api-key-detail"),
    path(f"{KEY}rotate/", views.ApiKeyRotateView.as_view(), name="api-key-rotate"),
    path(f"{KEY}revoke/", views.ApiKeyRevokeView.as_view(), name="api-key-revoke"),
]
