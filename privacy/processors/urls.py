"""URLs of the processors' callback API (under /api/v1/); no pages."""

from django.urls import path

from privacy.processors import api

urlpatterns: list = []

api_urlpatterns = [
    path(
        "processors/requests/<str:action_id>/received",
        api.ProcessorActionReceivedView.as_view(),
        name="api-processor-action-received",
    ),
    path(
        "processors/requests/<str:action_id>/completed",
        api.ProcessorActionCompletedView.as_view(),
        name="api-processor-action-completed",
    ),
    path(
        "processors/requests/<str:action_id>/refused",
        api.ProcessorActionRefusedView.as_view(),
        name="api-processor-action-refused",
    ),
]
