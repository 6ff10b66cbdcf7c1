"""URLs of privacy requests (signed-in and public)."""

from django.urls import path

from privacy import views_exports
from privacy import views_requests as views

urlpatterns = [
    path(
        "privacy/exports/<str:token>/download/",
        views_exports.export_download,
        name="privacy_export_download",
    ),
    path("privacy/requests/", views.request_list, name="privacy_request_list"),
    path("privacy/requests/new/", views.request_create, name="privacy_request_create"),
    path("privacy/requests/public/", views.public_request_create, name="privacy_request_public"),
    path(
        "privacy/requests/confirm/<str:token>/",
        views.public_request_confirm,
        name="privacy_request_confirm",
    ),
    path(
        "privacy/requests/<uuid:request_id>/", views.request_detail, name="privacy_request_detail"
    ),
    path(
        "privacy/requests/<uuid:request_id>/cancel/",
        views.request_cancel,
        name="privacy_request_cancel",
    ),
]
