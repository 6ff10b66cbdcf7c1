from django.urls import path

from privacy import api_requests as views

urlpatterns = [
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
