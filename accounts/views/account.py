"""Pages about the signed-in person: profile, security, sessions, preferences, activity."""

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.usersessions.models import UserSession
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts.audit import Action
from accounts.errors import DomainError
from accounts.forms.account import PreferencesForm, ProfileForm
from accounts.selectors import audit_events_for_user
from accounts.services import user_preferences_update, user_profile_update, user_sessions_end

ACTIVITY_PAGE_SIZE = 25

# How each account event reads on the activity page.
ACTION_LABELS = {
    Action.SIGNUP: "Account created",
    Action.LOGIN: "Signed in",
    Action.LOGIN_FAILED: "Failed sign-in attempt",
    Action.LOGOUT: "Signed out",
    Action.PASSWORD_CHANGED: "Password changed",
    Action.PASSWORD_RESET: "Password reset",
    Action.EMAIL_ADDED: "Email address added",
    Action.EMAIL_CHANGED: "Email address changed",
    Action.EMAIL_CONFIRMED: "Email address verified",
    Action.EMAIL_REMOVED: "Email address removed",
    Action.MFA_ACTIVATED: "Two-factor authentication turned on",
    Action.MFA_DEACTIVATED: "Two-factor authentication turned off",
    Action.MFA_RECOVERY_CODES_GENERATED: "New recovery codes generated",
    Action.PROFILE_UPDATED: "Profile updated",
    Action.PREFERENCES_UPDATED: "Communication preferences updated",
    Action.SESSION_ENDED: "Session signed out",
    Action.SESSIONS_ENDED_BY_STAFF: "All sessions signed out by our security team",
    Action.MFA_REMOVED_BY_STAFF: "Two-factor authentication removed by our security team",
    Action.USER_DEACTIVATED: "Account deactivated",
    Action.USER_REACTIVATED: "Account reactivated",
    Action.STAFF_ROLES_CHANGED: "Staff roles changed",
}

# Events shown with a warning badge: worth a second look if it was not you.
ATTENTION_ACTIONS = {
    Action.LOGIN_FAILED,
    Action.MFA_DEACTIVATED,
    Action.USER_DEACTIVATED,
    Action.SESSIONS_ENDED_BY_STAFF,
    Action.MFA_REMOVED_BY_STAFF,
}


def _add_domain_errors(form, error: DomainError) -> None:
    if error.fields:
        for field, field_errors in error.fields.items():
            for message in field_errors:
                form.add_error(field if field in form.fields else None, message)
    else:
        form.add_error(None, error.message)


@login_required
@require_http_methods(["GET", "POST"])
def profile(request):
    user = request.user
    form = ProfileForm(
        request.POST if request.method == "POST" else None, initial={"name": user.name}
    )
    if request.method == "POST" and form.is_valid():
        try:
            user_profile_update(user=user, name=form.cleaned_data["name"])
        except DomainError as error:
            _add_domain_errors(form, error)
        else:
            messages.success(request, "Your profile was saved.")
            return redirect("profile")
    primary = EmailAddress.objects.filter(user=user, primary=True).first()
    status = 400 if form.errors else 200
    return render(
        request,
        "accounts/account_profile.html",
        {"form": form, "primary_email": primary, "account_tab": "profile"},
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def preferences(request):
    user = request.user
    form = PreferencesForm(
        request.POST if request.method == "POST" else None,
        initial={"marketing_emails": user.marketing_emails},
    )
    if request.method == "POST" and form.is_valid():
        user_preferences_update(user=user, marketing_emails=form.cleaned_data["marketing_emails"])
        messages.success(request, "Your communication preferences were saved.")
        return redirect("preferences")
    status = 400 if form.errors else 200
    return render(
        request,
        "accounts/account_preferences.html",
        {"form": form, "account_tab": "preferences"},
        status=status,
    )


@login_required
def security(request):
    user = request.user
    authenticators = {a.type: a for a in Authenticator.objects.filter(user=user)}
    recovery = authenticators.get(Authenticator.Type.RECOVERY_CODES)
    context = {
        "account_tab": "security",
        "totp_active": Authenticator.Type.TOTP in authenticators,
        "recovery_unused": len(recovery.wrap().get_unused_codes()) if recovery else None,
        "email_addresses": EmailAddress.objects.filter(user=user).order_by("-primary", "email"),
        "session_count": UserSession.objects.filter(user=user).count(),
        "has_password": user.has_usable_password(),
    }
    return render(request, "accounts/account_security.html", context)


@login_required
def activity(request):
    events = audit_events_for_user(user=request.user)
    page = Paginator(events, ACTIVITY_PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [
        {
            "event": event,
            "label": ACTION_LABELS.get(event.action, event.action),
            "attention": event.action in ATTENTION_ACTIONS,
        }
        for event in page.object_list
    ]
    return render(
        request,
        "accounts/account_activity.html",
        {"page": page, "rows": rows, "account_tab": "activity"},
    )


@login_required
@require_POST
def session_end(request, session_id: int):
    """Sign out one other session of the signed-in person."""
    session = get_object_or_404(UserSession, pk=session_id, user=request.user)
    if session.session_key == request.session.session_key:
        messages.error(request, "To end this session, sign out.")
        return redirect("usersessions_list")
    user_sessions_end(user=request.user, sessions=[session])
    messages.success(request, "That session was signed out.")
    return redirect("usersessions_list")
