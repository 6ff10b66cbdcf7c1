"""URLs of the privacy pages (privacy center, settings, cookies, policies)."""

from django.urls import path

from privacy import views

urlpatterns = [
    path("privacy/", views.privacy_center, name="privacy_center"),
    path("privacy/settings/", views.privacy_settings, name="privacy_settings"),
    path(
        "privacy/workspaces/<uuid:workspace_id>/",
        views.workspace_privacy_settings,
        name="workspace_privacy_settings",
    ),
    path("privacy/cookies/", views.cookie_settings, name="cookie_settings"),
    path("privacy/cookies/consent/", views.consent_submit, name="consent_submit"),
    path("privacy/cookies/history/", views.consent_history, name="consent_history"),
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
