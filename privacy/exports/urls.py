"""URLs of data exports: the signed download link, and its REST twin under /api/v1/."""

from django.urls import path

from privacy.exports import api, views

urlpatterns = [
    path(
        "privacy/exports/<str:token>/download/",
        views.export_download,
        name="privacy_export_download",
    ),
]

api_urlpatterns = [
    path(
        "privacy/exports/<uuid:export_id>/download",
        api.ExportDownloadView.as_view(),
        name="api-privacy-export-download",
    ),
]
