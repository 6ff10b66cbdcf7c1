"""URLs of the API key pages."""

from django.urls import path

from apikeys import views

WS = "w/<uuid:workspace_id>/keys/"
KEY = f"{WS}<str:key_id>/"

urlpatterns = [
    path(WS, views.apikey_list, name="apikey_list"),
    path(f"{WS}new/", views.apikey_create, name="apikey_create"),
    path(KEY, views.apikey_detail, name="apikey_detail"),
    path(f"{KEY}edit/", views.apikey_edit, name="apikey_edit"),
    path(f"{KEY}rotate/", views.apikey_rotate, name="apikey_rotate"),
    path(f"{KEY}revoke/", views.apikey_revoke, name="apikey_revoke"),
    path(f"{KEY}delete/", views.apikey_delete, name="apikey_delete"),
]
