"""URLs of API keys: the pages, and the REST routes under /api/v1/ (verify included)."""

from django.urls import path

from apikeys.keys import api, views
from apikeys.keys.verify import verify_endpoint

WS = "w/<uuid:workspace_id>/keys/"
KEY = f"{WS}<str:key_id>/"

urlpatterns = [
    path(WS, views.apikey_list, name="apikey_list"),
    path(f"{WS}new/", views.apikey_create, name="apikey_create"),
    path(KEY, views.apikey_detail, name="apikey_detail"),
    path(f"{KEY}edit/", views.apikey_edit, name="apikey_edit"),
    path(f"{KEY}rotate/", views.apikey_rotate, name="apikey_rotate"),
    path(f"{KEY}revoke/", views.apikey_revoke, name="apikey_revoke"),
    path(f"{KEY}delete/", views.apikey_delete, name="apikey_delete"),
]

API_WS = "workspaces/<uuid:workspace_id>/"
API_KEY = f"{API_WS}keys/<str:key_id>/"

api_urlpatterns = [
    path("keys/verify", verify_endpoint, name="api-key-verify"),
    path("keys/report-leak", api.ApiKeyLeakReportView.as_view(), name="api-key-report-leak"),
    path(f"{API_WS}keys/", api.ApiKeyListView.as_view(), name="api-key-list"),
    path(API_KEY, api.ApiKeyDetailView.as_view(), name="api-key-detail"),
    path(f"{API_KEY}rotate/", api.ApiKeyRotateView.as_view(), name="api-key-rotate"),
    path(f"{API_KEY}revoke/", api.ApiKeyRevokeView.as_view(), name="api-key-revoke"),
]
