"""Dashboard pages for a workspace's webhooks (owners and admins, like the REST API).

Registering an endpoint, changing its URL and rotating its secret ask for the password
again (allauth's re-authentication), as the REST API does.
"""

from __future__ import annotations

from allauth.account.decorators import reauthentication_required
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.errors import DomainError, NotFound
from accounts.permissions import ROLE_PERMISSIONS, Perm
from accounts.views.workspaces import workspace_page
from accounts.webhooks import selectors, services
from accounts.webhooks.forms import WebhookEndpointEditForm, WebhookEndpointForm
from accounts.webhooks.models import WebhookEndpoint

LOG_MESSAGES = 50


def _context(workspace, **extra) -> dict:
    return {
        "workspace": workspace,
        "ws_perms": ROLE_PERMISSIONS[workspace.membership.role],
        **extra,
    }


def _no_store(response):
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    return response


def _form_errors(form, error: DomainError) -> None:
    placed = False
    for field, field_messages in (error.fields or {}).items():
        if field in form.fields:
            for message in field_messages:
                form.add_error(field, message)
            placed = True
    if not placed:
        form.add_error(None, error.message)


def _endpoint_or_404(request, workspace, endpoint_id) -> WebhookEndpoint:
    try:
        return selectors.webhook_endpoint_get_for_user(
            user=request.user, workspace_id=workspace.pk, endpoint_id=endpoint_id
        )[1]
    except NotFound:
        raise Http404("No such endpoint.") from None


def _url_changes(request) -> bool:
    if request.method != "POST":
        return False
    kwargs = request.resolver_match.kwargs
    current = (
        WebhookEndpoint.objects.filter(
            pk=kwargs.get("endpoint_id"), workspace_id=kwargs.get("workspace_id")
        )
        .values_list("url", flat=True)
        .first()
    )
    return current is not None and request.POST.get("url", current) != current


def _secret_page(request, workspace, endpoint, secret, heading, status=200):
    context = _context(workspace, endpoint=endpoint, secret=secret, heading=heading)
    return _no_store(render(request, "webhooks/endpoint_secret.html", context, status=status))


@require_GET
@workspace_page(Perm.WEBHOOKS_MANAGE)
def webhook_list(request, workspace):
    endpoints = selectors.webhook_endpoints_for_workspace(workspace=workspace)
    return render(request, "webhooks/endpoint_list.html", _context(workspace, endpoints=endpoints))


@require_http_methods(["GET", "POST"])
@workspace_page(Perm.WEBHOOKS_MANAGE)
@reauthentication_required(enabled=lambda request: request.method == "POST")
def webhook_create(request, workspace):
    form = WebhookEndpointForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            endpoint, secret = services.webhook_endpoint_create(
                workspace=workspace,
                url=form.cleaned_data["url"],
                event_types=form.cleaned_data["event_types"],
                description=form.cleaned_data["description"],
                actor=request.user,
            )
        except DomainError as error:
            _form_errors(form, error)
        else:
            return _secret_page(request, workspace, endpoint, secret, "Endpoint added", 201)
    status = 400 if form.errors else 200
    return render(
        request, "webhooks/endpoint_create.html", _context(workspace, form=form), status=status
    )


@require_http_methods(["GET", "POST"])
@workspace_page(Perm.WEBHOOKS_MANAGE)
@reauthentication_required(enabled=_url_changes)
def webhook_detail(request, workspace, endpoint_id):
    endpoint = _endpoint_or_404(request, workspace, endpoint_id)
    initial = {
        "url": endpoint.url,
        "description": endpoint.description,
        "event_types": endpoint.event_types,
        "enabled": endpoint.enabled,
    }
    form = WebhookEndpointEditForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.webhook_endpoint_update(
                endpoint=endpoint, actor=request.user, **form.cleaned_data
            )
        except DomainError as error:
            _form_errors(form, error)
        else:
            messages.success(request, "Endpoint saved.")
            return redirect("webhook_detail", workspace_id=workspace.pk, endpoint_id=endpoint.pk)
    log = list(
        selectors.webhook_messages_for_endpoint(endpoint=endpoint).prefetch_related("log")[
            :LOG_MESSAGES
        ]
    )
    context = _context(workspace, endpoint=endpoint, form=form, log=log)
    return render(
        request, "webhooks/endpoint_detail.html", context, status=400 if form.errors else 200
    )


@require_POST
@workspace_page(Perm.WEBHOOKS_MANAGE)
@reauthentication_required
def webhook_rotate(request, workspace, endpoint_id):
    endpoint = _endpoint_or_404(request, workspace, endpoint_id)
    endpoint, secret = services.webhook_endpoint_rotate_secret(
        endpoint=endpoint, actor=request.user
    )
    return _secret_page(request, workspace, endpoint, secret, "Secret rotated")


@require_POST
@workspace_page(Perm.WEBHOOKS_MANAGE)
def webhook_delete(request, workspace, endpoint_id):
    endpoint = _endpoint_or_404(request, workspace, endpoint_id)
    services.webhook_endpoint_delete(endpoint=endpoint, actor=request.user)
    messages.success(request, "Endpoint deleted.")
    return redirect("webhook_list", workspace_id=workspace.pk)


@require_POST
@workspace_page(Perm.WEBHOOKS_MANAGE)
def webhook_resend(request, workspace, endpoint_id, message_id):
    endpoint = _endpoint_or_404(request, workspace, endpoint_id)
    try:
        message = selectors.webhook_message_get(endpoint=endpoint, message_id=message_id)
        services.webhook_message_resend(message=message, actor=request.user)
    except NotFound:
        raise Http404("No such message.") from None
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"Message {message.pk} queued again.")
    return redirect("webhook_detail", workspace_id=workspace.pk, endpoint_id=endpoint.pk)
