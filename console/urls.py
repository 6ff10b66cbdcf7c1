"""URL layout: HTML pages per app, REST under /api/v1/, allauth under /accounts/."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

import accounts.webhooks.urls
import apikeys.urls
import privacy.urls
import support.urls
from accounts.views.signup import signup
from console import health

api_v1 = [
    path("", include("accounts.api.urls")),
    path("", include(accounts.webhooks.urls.api_urlpatterns)),
    path("", include(privacy.urls.api_urlpatterns)),
    path("", include(apikeys.urls.api_urlpatterns)),
    path("", include(support.urls.api_urlpatterns)),
]

handler400 = "accounts.rest.bad_request"
handler404 = "accounts.rest.page_not_found"

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    # Before allauth's own URLs: the same sign-up page, in one transaction.
    path("accounts/signup/", signup, name="account_signup"),
    path("accounts/", include("allauth.urls")),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("", include("accounts.urls")),
    path("", include("privacy.urls")),
    path("", include("apikeys.urls")),
    path("", include(support.urls.urlpatterns)),
]
