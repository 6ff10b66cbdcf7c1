"""URLs of the apikeys app: each feature's pages, and its REST routes under /api/v1/."""

from django.urls import include, path

from apikeys.keys import urls as keys_urls
from apikeys.usage import urls as usage_urls

urlpatterns = [
    path("", include(usage_urls.urlpatterns)),
    path("", include(keys_urls.urlpatterns)),
]

api_urlpatterns = [
    path("", include(usage_urls.api_urlpatterns)),
    path("", include(keys_urls.api_urlpatterns)),
]
