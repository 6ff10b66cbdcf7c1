"""The dashboard home."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from accounts.models import Membership
from accounts.selectors import invitations_pending_for_user


@login_required
def dashboard(request):
    """List the person's workspaces with their role in each, and invitations waiting."""
    memberships = Membership.objects.of_user(request.user).order_by(
        "-workspace__is_personal", "workspace__name"
    )
    invitations = invitations_pending_for_user(user=request.user)
    return render(
        request,
        "accounts/dashboard.html",
        {"memberships": memberships, "invitations": invitations},
    )
