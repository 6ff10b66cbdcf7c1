"""URLs of privacy requests: signed-in and public pages, and the REST routes under /api/v1/."""

from django.urls import path

from privacy.requests import api, views

urlpatterns = [
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

api_urlpatterns = [
    path("privacy/requests/", api.PrivacyRequestListView.as_view(), name="api-privacy-requests"),
    path(
        "privacy/requests/<uuid:request_id>/",
        api.PrivacyRequestDetailView.as_view(),
        name="api-privacy-request",
    ),
    path(
        "privacy/requests/<uuid:request_id>/cancel/",
        api.PrivacyRequestCancelView.as_view(),
        name="api-privacy-request-cancel",
    ),
]
