"""Account deletion pages: request (after re-authentication), pending state, cancel."""

from allauth.account.decorators import reauthentication_required
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts.errors import DomainError, NotFound
from privacy.deletion.models import DeletionStatus
from privacy.deletion.services import (
    account_deletion_cancel,
    account_deletion_cancel_by_token,
    account_deletion_pending,
    account_deletion_plan,
    account_deletion_request,
    deletion_from_cancel_token,
)

CONFIRM_PHRASE = "delete my account"


@login_required
@reauthentication_required
@require_http_methods(["GET", "POST"])
def account_delete(request):
    """Explain what deleting the account does; schedule it when the person confirms."""
    pending = account_deletion_pending(user=request.user)
    error = ""
    if request.method == "POST" and pending is None:
        typed = (request.POST.get("confirm") or "").strip().lower()[:100]
        if typed != CONFIRM_PHRASE:
            error = f'Type "{CONFIRM_PHRASE}" to confirm.'
        else:
            account_deletion_request(user=request.user)
            messages.success(request, "Your account is scheduled for deletion.")
            return redirect("account_delete")
    context = {
        "pending": pending,
        "plan": None if pending else account_deletion_plan(user=request.user),
        "confirm_phrase": CONFIRM_PHRASE,
        "grace_days": settings.ACCOUNT_DELETION_GRACE_DAYS,
        "error": error,
    }
    return render(request, "privacy/deletion_request.html", context, status=400 if error else 200)


@login_required
@require_POST
def account_delete_cancel(request):
    try:
        account_deletion_cancel(user=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "The deletion is cancelled. Your account stays as it is.")
    return redirect("account_delete")


@require_http_methods(["GET", "POST"])
def account_delete_cancel_link(request, token: str):
    """The emailed link: a page with one button (a GET never changes anything)."""
    try:
        deletion = deletion_from_cancel_token(token=token)
    except NotFound:
        return render(request, "privacy/deletion_cancel_link.html", {"invalid": True}, status=404)
    done = False
    error = ""
    if request.method == "POST":
        try:
            deletion = account_deletion_cancel_by_token(token=token)
            done = True
        except DomainError as exc:
            error = exc.message
    context = {
        "deletion": deletion,
        "done": done or deletion.status == DeletionStatus.CANCELLED,
        "cancellable": deletion.status == DeletionStatus.PENDING,
        "error": error,
    }
    return render(
        request, "privacy/deletion_cancel_link.html", context, status=409 if error else 200
    )
