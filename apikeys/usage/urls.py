"""URLs of the usage pages."""

from django.urls import path

from apikeys import usage_views

urlpatterns = [
    path("w/<uuid:workspace_id>/usage/", usage_views.usage_dashboard, name="usage_dashboard"),
    path("w/<uuid:workspace_id>/usage/export.csv", usage_views.usage_csv, name="usage_csv"),
]
