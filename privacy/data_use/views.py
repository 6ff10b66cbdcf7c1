"""HTML pages: privacy center, settings, cookie settings and consent history, policies."""

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from accounts.errors import DomainError, NotFound
from accounts.permissions import Perm
from accounts.selectors import workspace_get_for_user, workspaces_for_user
from privacy.consent import Choice, gpc_requested, set_consent_cookies
from privacy.forms import ConsentForm, PrivacySettingsForm, WorkspacePrivacyForm
from privacy.models import PolicyVersion
from privacy.models.policy import PolicyKind
from privacy.selectors import (
    consent_records_visible,
    consent_state_for_request,
    policy_current,
    policy_version_get_public,
    policy_versions_public,
    privacy_settings_for_user,
)
from privacy.services import (
    consent_record,
    policy_acknowledge,
    privacy_settings_update,
    workspace_privacy_update,
)

HISTORY_PAGE_SIZE = 25
KIND_SLUGS = {"privacy": PolicyKind.PRIVACY, "cookies": PolicyKind.COOKIE}


def _safe_next(request, candidate: str | None, default: str = "/") -> str:
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return default


def _add_domain_errors(form, error: DomainError) -> None:
    for field, field_errors in (error.fields or {None: [error.message]}).items():
        for message in field_errors:
            form.add_error(field if field in form.fields else None, message)


def _decide(request, form: ConsentForm, *, method: str):
    """Record the decision in `form` and return the visitor id and the stored choice."""
    visitor_id = getattr(request, "consent_visitor_id", None) or uuid.uuid4()
    record = consent_record(
        visitor_id=visitor_id,
        user=request.user,
        method=method,
        gpc=gpc_requested(request),
        **form.categories(),
    )
    choice = Choice(
        version_id=record.cookie_policy_version_id,
        preferences=record.preferences,
        analytics=record.analytics,
        marketing=record.marketing,
    )
    return visitor_id, choice


@require_POST
def consent_submit(request):
    """Take a decision from the banner (used when JavaScript is off)."""
    form = ConsentForm(request.POST)
    if not form.is_valid():
        return _cookie_settings_page(request, form, status=400)
    visitor_id, choice = _decide(request, form, method="button")
    response = redirect(_safe_next(request, form.cleaned_data.get("next")))
    return set_consent_cookies(response, request, visitor_id=visitor_id, choice=choice)


@require_http_methods(["GET", "POST"])
def cookie_settings(request):
    """Change or withdraw consent: as easy as giving it."""
    if request.method == "POST":
        form = ConsentForm(request.POST)
        if form.is_valid():
            visitor_id, choice = _decide(request, form, method="settings")
            messages.success(request, "Your cookie choices were saved.")
            response = redirect("cookie_settings")
            return set_consent_cookies(response, request, visitor_id=visitor_id, choice=choice)
        return _cookie_settings_page(request, form, status=400)
    state = consent_state_for_request(request)
    current = state.current_choice
    initial = {"choice": "save"}
    if current is not None:
        initial.update(
            preferences=current.preferences,
            analytics=current.analytics,
            marketing=current.marketing,
        )
    return _cookie_settings_page(request, ConsentForm(initial=initial))


def _cookie_settings_page(request, form, status=200):
    state = consent_state_for_request(request)
    return render(
        request,
        "privacy/cookie_settings.html",
        {
            "form": form,
            "state": state,
            "cookie_policy": policy_current(kind=PolicyKind.COOKIE),
            "on_settings_page": True,
        },
        status=status,
    )


def consent_history(request):
    """The consent decisions of this account and of this browser."""
    records = consent_records_visible(
        user=request.user, visitor_id=getattr(request, "consent_visitor_id", None)
    )
    page = Paginator(records, HISTORY_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "privacy/consent_history.html", {"page_obj": page})


@login_required
def privacy_center(request):
    user = request.user
    manageable = [
        workspace for workspace in workspaces_for_user(user=user) if _can_manage(user, workspace.pk)
    ]
    return render(
        request,
        "privacy/privacy_center.html",
        {
            "settings": privacy_settings_for_user(user=user),
            "workspaces": manageable,
            "privacy_policy": policy_current(kind=PolicyKind.PRIVACY),
            "cookie_policy": policy_current(kind=PolicyKind.COOKIE),
        },
    )


def _can_manage(user, workspace_id) -> bool:
    try:
        workspace_get_for_user(
            user=user, workspace_id=workspace_id, permission=Perm.SETTINGS_UPDATE
        )
    except DomainError:
        return False
    return True


@login_required
@require_http_methods(["GET", "POST"])
def privacy_settings(request):
    user = request.user
    current = privacy_settings_for_user(user=user)
    initial = {
        "training_opt_out": current.training_opt_out,
        "do_not_sell_or_share": current.do_not_sell_or_share,
        "marketing_emails": user.marketing_emails,
    }
    form = PrivacySettingsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            privacy_settings_update(user=user, **form.cleaned_data)
        except DomainError as error:
            _add_domain_errors(form, error)
        else:
            messages.success(request, "Your privacy settings were saved.")
            return redirect("privacy_settings")
    return render(
        request,
        "privacy/privacy_settings.html",
        {"form": form, "settings": current},
        status=400 if form.errors else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def workspace_privacy_settings(request, workspace_id):
    try:
        workspace = workspace_get_for_user(
            user=request.user, workspace_id=workspace_id, permission=Perm.SETTINGS_UPDATE
        )
    except NotFound:
        raise Http404() from None
    initial = {
        "zero_data_retention": workspace.zero_data_retention,
        "training_opt_out": workspace.training_opt_out,
        "usage_retention_days": workspace.usage_retention_days,
    }
    form = WorkspacePrivacyForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            workspace_privacy_update(workspace=workspace, actor=request.user, **form.cleaned_data)
        except DomainError as error:
            _add_domain_errors(form, error)
        else:
            messages.success(request, "The workspace's privacy settings were saved.")
            return redirect("workspace_privacy_settings", workspace_id=workspace.pk)
    return render(
        request,
        "privacy/workspace_privacy_settings.html",
        {"form": form, "workspace": workspace},
        status=400 if form.errors else 200,
    )


def _policy_page(request, kind: str, version: PolicyVersion | None):
    if version is None:
        raise Http404("No version of this policy is published.")
    return render(
        request,
        "privacy/policy.html",
        {
            "policy": version,
            "current": policy_current(kind=kind),
            "versions": policy_versions_public(kind=kind),
            "kind_slug": "privacy" if kind == PolicyKind.PRIVACY else "cookies",
        },
    )


def privacy_policy(request):
    return _policy_page(request, PolicyKind.PRIVACY, policy_current(kind=PolicyKind.PRIVACY))


def cookie_policy(request):
    return _policy_page(request, PolicyKind.COOKIE, policy_current(kind=PolicyKind.COOKIE))


def policy_version_detail(request, kind_slug: str, version: str):
    kind = KIND_SLUGS.get(kind_slug)
    if kind is None:
        raise Http404()
    return _policy_page(request, kind, policy_version_get_public(kind=kind, version=version))


@login_required
@require_POST
def policy_acknowledge_view(request, policy_id: int):
    policy = get_object_or_404(PolicyVersion.objects.published(), pk=policy_id)
    try:
        policy_acknowledge(user=request.user, policy_version=policy)
    except DomainError:
        raise Http404() from None
    messages.success(request, f"Thank you. You acknowledged the {policy.get_kind_display()}.")
    return redirect(_safe_next(request, request.POST.get("next")))
