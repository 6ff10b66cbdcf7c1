"""The privacy center: one page that leads to every privacy feature."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from accounts.selectors import workspaces_for_user
from privacy.data_use.selectors import privacy_settings_for_user, workspace_privacy_manageable
from privacy.policies.models import PolicyKind
from privacy.policies.selectors import (
    policy_current,
)


@login_required
def privacy_center(request):
    user = request.user
    manageable = [
        workspace
        for workspace in workspaces_for_user(user=user)
        if workspace_privacy_manageable(user, workspace.pk)
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
