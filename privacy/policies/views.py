"""Public policy pages, their version history, and acknowledging a material change."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts.errors import DomainError
from privacy.pages import safe_next_url
from privacy.policies.models import PolicyKind, PolicyVersion
from privacy.policies.selectors import (
    policy_current,
    policy_version_get_public,
    policy_versions_public,
)
from privacy.policies.services import policy_acknowledge

KIND_SLUGS = {"privacy": PolicyKind.PRIVACY, "cookies": PolicyKind.COOKIE}


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
    return redirect(safe_next_url(request, request.POST.get("next")))
