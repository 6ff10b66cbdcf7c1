"""The admin site for support staff: sign-in through allauth, and MFA required.

Django's own admin login would bypass allauth (its rate limits and its MFA stage), so
the admin login only hands over to allauth's login. A staff member also needs an
active TOTP authenticator and a session in which MFA was actually completed: a
session opened any other way (for instance before TOTP was set up) must pass allauth's
MFA re-authentication first.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.apps import AdminConfig
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import resolve_url
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.cache import never_cache


def staff_has_totp(user) -> bool:
    """Tell whether `user` has an active TOTP authenticator."""
    from allauth.mfa.models import Authenticator

    return Authenticator.objects.filter(user_id=user.pk, type=Authenticator.Type.TOTP).exists()


def session_passed_mfa(request: HttpRequest) -> bool:
    """Tell whether MFA was completed in this session for the signed-in user."""
    from allauth.account.authentication import get_authentication_records

    records = get_authentication_records(request, request.user)
    return any(record.get("method") == "mfa" for record in records)


class SupportAdminSite(admin.AdminSite):
    site_header = "Console support"
    site_title = "Console support"
    index_title = "Support"

    def has_permission(self, request: HttpRequest) -> bool:
        return (
            super().has_permission(request)
            and staff_has_totp(request.user)
            and session_passed_mfa(request)
        )

    @method_decorator(never_cache)
    def login(self, request: HttpRequest, extra_context=None):
        """Send people to allauth's login, MFA set-up or MFA check, whichever is due."""
        next_url = request.GET.get(REDIRECT_FIELD_NAME) or request.POST.get(REDIRECT_FIELD_NAME)
        if not next_url or not url_has_allowed_host_and_scheme(
            next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            next_url = reverse("admin:index", current_app=self.name)
        user = request.user
        if not user.is_authenticated:
            return _redirect(resolve_url("account_login"), next_url)
        if not (user.is_active and user.is_staff):
            # Redirecting to the login would bounce a signed-in customer straight back.
            raise PermissionDenied
        if not staff_has_totp(user):
            messages.warning(
                request,
                "The admin requires two-factor authentication. Set up an authenticator "
                "app, then open the admin again.",
            )
            return _redirect(reverse("mfa_activate_totp"), next_url)
        if not session_passed_mfa(request):
            messages.info(request, "Confirm with your authenticator app to open the admin.")
            return _redirect(reverse("mfa_reauthenticate"), next_url)
        return HttpResponseRedirect(next_url)

    def password_change(self, request: HttpRequest, extra_context=None):
        """Hand password changes to allauth's page.

        Django's own admin form would skip allauth's rate limit, its notice email and
        the audit event; allauth's page is the one flow for everybody.
        """
        return HttpResponseRedirect(reverse("account_change_password"))

    def password_change_done(self, request: HttpRequest, extra_context=None):
        return HttpResponseRedirect(reverse("account_change_password"))


def _redirect(url: str, next_url: str) -> HttpResponseRedirect:
    return HttpResponseRedirect(f"{url}?{urlencode({REDIRECT_FIELD_NAME: next_url})}")


class SupportAdminConfig(AdminConfig):
    default_site = "accounts.admin_site.SupportAdminSite"
