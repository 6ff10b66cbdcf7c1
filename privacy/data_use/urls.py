"""URLs of the data-use settings: a person's, a workspace's, and the REST endpoint."""

from django.urls import path

from privacy.data_use import api, views

urlpatterns = [
    path("privacy/settings/", views.privacy_settings, name="privacy_settings"),
    path(
        "privacy/workspaces/<uuid:workspace_id>/",
        views.workspace_privacy_settings,
        name="workspace_privacy_settings",
    ),
]

api_urlpatterns = [
    path("privacy/settings/", api.PrivacySettingsView.as_view(), name="api-privacy-settings"),
]
