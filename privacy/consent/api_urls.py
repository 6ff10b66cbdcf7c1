from django.urls import path

from privacy.api import views

urlpatterns = [
    path("privacy/settings/", views.PrivacySettingsView.as_view(), name="api-privacy-settings"),
    path("privacy/consent/", views.ConsentView.as_view(), name="api-privacy-consent"),
]
