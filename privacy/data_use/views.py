"""Data-use settings pages: a person's, and each workspace's for its owners and admins."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts.errors import DomainError, NotFound
from accounts.permissions import Perm
from accounts.selectors import workspace_get_for_user
from privacy.data_use.forms import PrivacySettingsForm, WorkspacePrivacyForm
from privacy.data_use.selectors import privacy_settings_for_user
from privacy.data_use.services import privacy_settings_update, workspace_privacy_update
from privacy.pages import form_add_domain_errors


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
            form_add_domain_errors(form, error)
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
            form_add_domain_errors(form, error)
        else:
            messages.success(request, "The workspace's privacy settings were saved.")
            return redirect("workspace_privacy_settings", workspace_id=workspace.pk)
    return render(
        request,
        "privacy/workspace_privacy_settings.html",
        {"form": form, "workspace": workspace},
        status=400 if form.errors else 200,
    )
