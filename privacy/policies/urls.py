"""URLs of the public policies, their versions, and acknowledging a material change."""

from django.urls import path

from privacy.policies import views

urlpatterns = [
    path("policies/privacy/", views.privacy_policy, name="privacy_policy"),
    path("policies/cookies/", views.cookie_policy, name="cookie_policy"),
    path(
        "policies/<int:policy_id>/acknowledge/",
        views.policy_acknowledge_view,
        name="policy_acknowledge",
    ),
    path(
        "policies/<slug:kind_slug>/<str:version>/",
        views.policy_version_detail,
        name="policy_version_detail",
    ),
]

api_urlpatterns = []
