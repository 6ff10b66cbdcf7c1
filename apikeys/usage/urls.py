"""URLs of usage: the pages, and the REST routes under /api/v1/."""

from django.urls import path

from apikeys.usage import api
from apikeys.usage import views as usage_views

urlpatterns = [
    path("w/<uuid:workspace_id>/usage/", usage_views.usage_dashboard, name="usage_dashboard"),
    path("w/<uuid:workspace_id>/usage/export.csv", usage_views.usage_csv, name="usage_csv"),
]

api_urlpatterns = [
    path("usage", api.UsageIngestView.as_view(), name="api_usage_ingest"),
    path(
        "workspaces/<uuid:workspace_id>/usage/",
        api.WorkspaceUsageView.as_view(),
        name="api_workspace_usage",
    ),
]
