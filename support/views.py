"""Pages of the support desk: contact support, the requester's list and threads, the
public form for people who cannot sign in, and attachment downloads."""

from __future__ import annotations

import hashlib

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.errors import DomainError, NotFound, form_add_domain_errors
from accounts.ratelimit import hit, rate_limited
from support import files
from support.forms import PublicSupportForm, ReplyForm, SupportRequestForm
from support.models import Category, SupportRequest
from support.selectors import (
    support_attachment_get_for_user,
    support_request_get_for_user,
    support_thread,
)
from support.services import (
    support_request_close,
    support_request_confirm,
    support_request_create,
    support_request_reply,
    support_request_submit_public,
)


def _own(request, request_id) -> SupportRequest:
    try:
        return support_request_get_for_user(user=request.user, request_id=request_id)
    except NotFound as exc:
        raise Http404 from exc


@login_required
@require_GET
def support_list(request):
    requests = SupportRequest.objects.for_user(request.user).order_by("-updated_at")
    page = Paginator(requests, 20).get_page(request.GET.get("page"))
    return render(request, "support/list.html", {"page": page})


@login_required
@require_http_methods(["GET", "POST"])
def support_create(request):
    form = SupportRequestForm(request.POST or None, request.FILES or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            created = support_request_create(
                user=request.user,
                subject=data["subject"],
                category=data["category"],
                message=data["message"],
                workspace_id=data["workspace"] or None,
                api_key_id=data["api_key"] or None,
                attachments=data["attachments"],
            )
        except DomainError as exc:
            form_add_domain_errors(form, exc)
        else:
            messages.success(request, "Your request reached our support team.")
            return redirect("support_detail", support_request_id=created.pk)
    return render(request, "support/form.html", {"form": form})


@login_required
@require_GET
def support_detail(request, support_request_id):
    support_request = _own(request, support_request_id)
    context = {
        "support_request": support_request,
        "thread": support_thread(request=support_request),
        "form": ReplyForm(),
        "privacy": support_request.category == Category.PRIVACY,
    }
    return render(request, "support/detail.html", context)


@login_required
@require_POST
def support_reply(request, support_request_id):
    support_request = _own(request, support_request_id)
    form = ReplyForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            support_request_reply(
                request=support_request,
                user=request.user,
                message=form.cleaned_data["message"],
                attachments=form.cleaned_data["attachments"],
            )
        except DomainError as exc:
            form_add_domain_errors(form, exc)
        else:
            messages.success(request, "Your reply was sent.")
            return redirect("support_detail", support_request_id=support_request.pk)
    context = {
        "support_request": support_request,
        "thread": support_thread(request=support_request),
        "form": form,
        "privacy": support_request.category == Category.PRIVACY,
    }
    return render(request, "support/detail.html", context, status=400)


@login_required
@require_POST
def support_close(request, support_request_id):
    support_request = _own(request, support_request_id)
    try:
        support_request_close(request=support_request, user=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Your request was closed. Reply any time to reopen it.")
    return redirect("support_detail", support_request_id=support_request.pk)


@login_required
@require_GET
def support_attachment(request, support_request_id, attachment_id):
    try:
        attachment = support_attachment_get_for_user(
            user=request.user, request_id=support_request_id, attachment_id=attachment_id
        )
        data = files.file_read(attachment_id=attachment.pk)
    except (NotFound, FileNotFoundError) as exc:
        raise Http404 from exc
    return files.download_response(attachment=attachment, data=data)


def _email_limited(email: str) -> bool:
    """Per address as well as per client: one address cannot be flooded with links."""
    key = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
    return hit("support-public-email", key=key, limit=3, period=3600) is not None


@require_http_methods(["GET", "POST"])
@rate_limited("support-public", limit=5, period=3600, methods=("POST",))
def public_create(request):
    """For people who cannot sign in; the emailed link decides whether it reaches staff."""
    form = PublicSupportForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if _email_limited(form.cleaned_data["email"]):
            response = HttpResponse(
                "Too many requests for this address. Try again later.",
                status=429,
                content_type="text/plain",
            )
            response["Retry-After"] = "3600"
            return response
        try:
            support_request_submit_public(**form.cleaned_data)
        except DomainError as exc:
            form_add_domain_errors(form, exc)
        else:
            return render(request, "support/public_sent.html")
    return render(request, "support/public_form.html", {"form": form})


@require_http_methods(["GET", "POST"])
def public_confirm(request, token):
    # GET shows a button; only the POST confirms, so link scanners cannot confirm.
    if request.method == "GET":
        return render(request, "support/public_confirm.html", {"token": token})
    try:
        support_request_confirm(token=token)
    except NotFound:
        return render(request, "support/public_invalid.html", status=404)
    return render(request, "support/public_confirmed.html")
