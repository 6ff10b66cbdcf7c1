from django.urls import path

from privacy import api_requests as views
from privacy.views_exports import ExportDownloadView

urlpatterns = [
    path(
        "privacy/exports/<uuid:export_id>/download",
        ExportDownloadView.as_view(),
        name="api-privacy-export-download",
    ),
    path("privacy/requests/", views.PrivacyRequestListView.as_view(), name="api-privacy-requests"),
    path(
        "privacy/requests/<uuid:request_id>/",
        views.PrivacyRequestDetailView.as_view(),
        name="api-privacy-request",
    ),
    path(
        "privacy/requests/<uuid:request_id>/cancel/",
        views.PrivacyRequestCancelView.as_view(),
        name="api-privacy-request-cancel",
    ),
]
