"""URLs of the support desk: pages, and the REST routes under /api/v1/."""

from django.urls import path

from support import api, views

urlpatterns = [
    path("support/", views.support_list, name="support_list"),
    path("support/new/", views.support_create, name="support_create"),
    path("support/public/", views.public_create, name="support_public"),
    path("support/public/confirm/<str:token>/", views.public_confirm, name="support_confirm"),
    path("support/<uuid:support_request_id>/", views.support_detail, name="support_detail"),
    path("support/<uuid:support_request_id>/reply/", views.support_reply, name="support_reply"),
    path("support/<uuid:support_request_id>/close/", views.support_close, name="support_close"),
    path(
        "support/<uuid:support_request_id>/files/<uuid:attachment_id>/",
        views.support_attachment,
        name="support_attachment",
    ),
]

api_urlpatterns = [
    path("support/requests/", api.SupportRequestListView.as_view(), name="api-support-requests"),
    path(
        "support/requests/<uuid:support_request_id>/",
        api.SupportRequestDetailView.as_view(),
        name="api-support-request",
    ),
    path(
        "support/requests/<uuid:support_request_id>/reply/",
        api.SupportRequestReplyView.as_view(),
        name="api-support-request-reply",
    ),
    path(
        "support/requests/<uuid:support_request_id>/close/",
        api.SupportRequestCloseView.as_view(),
        name="api-support-request-close",
    ),
    path(
        "support/requests/<uuid:support_request_id>/attachments/<uuid:attachment_id>/",
        api.SupportAttachmentView.as_view(),
        name="api-support-attachment",
    ),
]
