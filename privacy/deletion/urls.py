"""URLs of the account deletion pages."""

from django.urls import path

from privacy.deletion import views as views_deletion

urlpatterns = [
    path("account/delete/", views_deletion.account_delete, name="account_delete"),
    path(
        "account/delete/cancel/",
        views_deletion.account_delete_cancel,
        name="account_delete_cancel",
    ),
    path(
        "account/delete/cancel/<str:token>/",
        views_deletion.account_delete_cancel_link,
        name="account_delete_cancel_link",
    ),
]

api_urlpatterns = []
