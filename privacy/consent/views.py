"""Cookie settings, the consent banner's form and the consent history."""

import uuid

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from privacy.consent.cookies import Choice, gpc_requested, set_consent_cookies
from privacy.consent.forms import ConsentForm
from privacy.consent.selectors import consent_records_visible, consent_state_for_request
from privacy.consent.services import consent_record
from privacy.pages import safe_next_url
from privacy.policies.models import PolicyKind
from privacy.policies.selectors import (
    policy_current,
)

HISTORY_PAGE_SIZE = 25


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
        banner_version=record.banner_version,
    )
    return visitor_id, choice


@require_POST
def consent_submit(request):
    """Take a decision from the banner (used when JavaScript is off)."""
    form = ConsentForm(request.POST)
    if not form.is_valid():
        return _cookie_settings_page(request, form, status=400)
    visitor_id, choice = _decide(request, form, method="button")
    response = redirect(safe_next_url(request, form.cleaned_data.get("next")))
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
