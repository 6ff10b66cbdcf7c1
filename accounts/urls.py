from django.urls import include, path

from accounts.views.dashboard import dashboard

urlpatterns = [
    path("", dashboard, name="dashboard"),
    path("", include("accounts.urls_account")),
    path("", include("accounts.urls_workspaces")),
]
