"""Pages for privacy requests: the signed-in list and form, detail, public form."""

from allauth.account.decorators import reauthentication_required
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts.errors import DomainError, NotFound, form_add_domain_errors
from accounts.ratelimit import rate_limited
from privacy.processors.selectors import processor_actions_for_request
from privacy.requests.forms import PrivacyRequestForm, PublicPrivacyRequestForm
from privacy.requests.models import PrivacyRequest
from privacy.requests.selectors import privacy_request_get_for_user
from privacy.requests.services import (
    privacy_request_cancel,
    privacy_request_confirm,
    privacy_request_submit,
    privacy_request_submit_public,
)


@login_required
def request_list(request):
    requests = PrivacyRequest.objects.for_user(request.user).order_by("-submitted_at")
    page = Paginator(requests, 20).get_page(request.GET.get("page"))
    return render(request, "privacy/requests_list.html", {"page": page})


@login_required
@reauthentication_required
@require_http_methods(["GET", "POST"])
def request_create(request):
    form = PrivacyRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            created = privacy_request_submit(user=request.user, **form.cleaned_data)
        except DomainError as exc:
            form_add_domain_errors(form, exc)
        else:
            messages.success(request, "Your request was received. We have emailed you a copy.")
            return redirect("privacy_request_detail", request_id=created.pk)
    return render(request, "privacy/requests_form.html", {"form": form})


def _own_request(request, request_id) -> PrivacyRequest:
    try:
        return privacy_request_get_for_user(user=request.user, request_id=request_id)
    except NotFound as exc:
        raise Http404 from exc


@login_required
def request_detail(request, request_id):
    privacy_request = _own_request(request, request_id)
    export = None
    if privacy_request.export_id:
        from privacy.exports.models import DataExport

        export = DataExport.objects.filter(pk=privacy_request.export_id).first()
    return render(
        request,
        "privacy/requests_detail.html",
        {
            "privacy_request": privacy_request,
            "export": export,
            "processor_actions": processor_actions_for_request(
                privacy_request_id=privacy_request.pk
            ),
        },
    )


@login_required
@require_POST
def request_cancel(request, request_id):
    privacy_request = _own_request(request, request_id)
    try:
        privacy_request_cancel(request=privacy_request, user=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Your request was cancelled.")
    return redirect("privacy_request_detail", request_id=privacy_request.pk)


@require_http_methods(["GET", "POST"])
@rate_limited("privacy-public-request", limit=5, period=3600, methods=("POST",))
def public_request_create(request):
    """Anyone, signed in or not, may ask; the emailed link starts the request."""
    form = PublicPrivacyRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            privacy_request_submit_public(**form.cleaned_data)
        except DomainError as exc:
            form_add_domain_errors(form, exc)
        else:
            return render(request, "privacy/requests_public_sent.html", status=200)
    return render(request, "privacy/requests_public_form.html", {"form": form})


@require_http_methods(["GET", "POST"])
def public_request_confirm(request, token):
    # GET shows a button; only the POST confirms, so link scanners cannot start requests.
    if request.method == "GET":
        return render(request, "privacy/requests_public_confirm.html", {"token": token})
    try:
        confirmed = privacy_request_confirm(token=token)
    except NotFound:
        return render(request, "privacy/requests_public_invalid.html", status=404)
    return render(request, "privacy/requests_public_confirmed.html", {"privacy_request": confirmed})
