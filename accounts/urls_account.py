"""URLs of the account pages (profile, security, preferences, activity)."""

from django.urls import path

from accounts.views import account

urlpatterns = [
    path("account/profile/", account.profile, name="profile"),
    path("account/preferences/", account.preferences, name="preferences"),
    path("account/security/", account.security, name="security"),
    path("account/activity/", account.activity, name="account_activity"),
    path(
        "account/sessions/<int:session_id>/end/",
        account.session_end,
        name="account_session_end",
    ),
]
