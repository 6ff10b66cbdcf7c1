"""URLs of the privacy app: the privacy center, each feature's pages, and each feature's
REST routes under /api/v1/."""

from django.urls import include, path

from privacy import views
from privacy.consent import urls as consent_urls
from privacy.data_use import urls as data_use_urls
from privacy.deletion import urls as deletion_urls
from privacy.exports import urls as exports_urls
from privacy.policies import urls as policies_urls
from privacy.processors import urls as processors_urls
from privacy.requests import urls as requests_urls

FEATURES = (
    deletion_urls,
    exports_urls,
    requests_urls,
    data_use_urls,
    consent_urls,
    policies_urls,
    processors_urls,
)

urlpatterns = [
    path("privacy/", views.privacy_center, name="privacy_center"),
    *(path("", include(feature.urlpatterns)) for feature in FEATURES),
]

api_urlpatterns = [path("", include(feature.api_urlpatterns)) for feature in FEATURES]
