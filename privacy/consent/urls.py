"""URLs of cookie consent: settings, the banner's form, history, and the REST endpoint."""

from django.urls import path

from privacy.consent import api, views

urlpatterns = [
    path("privacy/cookies/", views.cookie_settings, name="cookie_settings"),
    path("privacy/cookies/consent/", views.consent_submit, name="consent_submit"),
    path("privacy/cookies/history/", views.consent_history, name="consent_history"),
]

api_urlpatterns = [
    path("privacy/consent/", api.ConsentView.as_view(), name="api-privacy-consent"),
]
