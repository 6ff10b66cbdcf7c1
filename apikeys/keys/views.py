"""Pages of a workspace's API keys: list, create, detail, edit, rotate, revoke, delete.

The full key appears only in the response to the create or rotate POST (rendered, not
redirected, and marked `no-store`); it is never kept in the session or the database.
"""

from __future__ import annotations

from datetime import timedelta

from allauth.account.decorators import reauthentication_required
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.template import TemplateDoesNotExist
from django.template.loader import get_template
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from accounts.errors import DomainError, NotFound
from accounts.paging import page_without_count
from accounts.permissions import ROLE_PERMISSIONS, Perm
from accounts.views.workspaces import workspace_page
from apikeys.keys import selectors, services
from apikeys.keys.forms import (
    ApiKeyCreateForm,
    ApiKeyEditForm,
    ApiKeyFilterForm,
    ApiKeyRotateForm,
)
from apikeys.keys.services import api_key_can_manage
from apikeys.keys.tokens import Environment

PAGE_SIZE = 50
# A key not used for this long is marked unused (ApiKey.is_unused).
UNUSED_AFTER = timedelta(days=90)
# The usage engineer's per-key chart; the detail page includes it when it exists.
USAGE_PANEL_TEMPLATE = "apikeys/usage_key_panel.html"


def _form_errors_from(form, error: DomainError) -> None:
    placed = False
    for field, field_messages in (error.fields or {}).items():
        if field in form.fields:
            for message in field_messages:
                form.add_error(field, message)
            placed = True
    if not placed:
        form.add_error(None, error.message)


def _no_store(response):
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    return response


def _key_or_404(request, workspace, key_id, *, manage: bool):
    try:
        return selectors.api_key_get_for_user(
            user=request.user, workspace_id=workspace.pk, public_id=key_id, manage=manage
        )[1]
    except NotFound:
        raise Http404("No such key.") from None


def _base_context(workspace) -> dict:
    perms = ROLE_PERMISSIONS[workspace.membership.role]
    return {
        "workspace": workspace,
        "ws_perms": perms,
        "Perm": Perm,
        "can_create": Perm.KEYS_CREATE in perms,
    }


@require_GET
@workspace_page(Perm.KEYS_VIEW)
def apikey_list(request, workspace):
    form = ApiKeyFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    keys = selectors.api_keys_for_workspace(
        workspace=workspace,
        environment=filters.get("environment", ""),
        status=filters.get("status", ""),
        sort=filters.get("sort", ""),
    )
    page = page_without_count(keys, request.GET.get("page"), PAGE_SIZE)
    role = workspace.membership.role
    # What each row shows, worked out once here rather than by template tags per row.
    now = timezone.now()
    unused_before = now - UNUSED_AFTER
    rows = []
    for key in page.object_list:
        if key.revoked_at is not None:
            status = "revoked"
        elif key.expires_at is not None and key.expires_at <= now:
            status = "expired"
        else:
            status = "active"
        grace = key.previous_secret_expires_at
        rows.append(
            {
                "key": key,
                "status": status,
                "grace_until": grace if status != "revoked" and grace and grace > now else None,
                "unused": status == "active"
                and (key.last_used_at or key.created_at) <= unused_before,
                "can_manage": api_key_can_manage(api_key=key, role=role, user_id=request.user.pk),
            }
        )
    filters = request.GET.copy()
    filters.pop("page", None)
    context = {
        **_base_context(workspace),
        "form": form,
        "page": page,
        "rows": rows,
        "page_query": filters.urlencode(),
    }
    return render(request, "apikeys/key_list.html", context)


def _production_requested(request) -> bool:
    return request.method == "POST" and request.POST.get("environment") == Environment.PRODUCTION


@require_http_methods(["GET", "POST"])
@workspace_page(Perm.KEYS_CREATE)
@reauthentication_required(enabled=_production_requested)
def apikey_create(request, workspace):
    form = ApiKeyCreateForm(request.POST or None, max_lifetime_days=workspace.max_key_lifetime_days)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            api_key, full_key = services.api_key_create(
                workspace=workspace,
                actor=request.user,
                name=data["name"],
                environment=data["environment"],
                scopes=data["scopes"],
                expires_at=form.expires_at(),
                allowed_ips=data["allowed_ips"],
                max_tokens_per_request=data["max_tokens_per_request"],
                requests_per_minute=data["requests_per_minute"],
                tokens_per_minute=data["tokens_per_minute"],
                monthly_token_budget=data["monthly_token_budget"],
            )
        except DomainError as error:
            _form_errors_from(form, error)
        else:
            context = {
                **_base_context(workspace),
                "api_key": api_key,
                "full_key": full_key,
                "heading": "Key created",
            }
            return _no_store(render(request, "apikeys/key_secret.html", context, status=201))
    status = 400 if form.errors else 200
    context = {**_base_context(workspace), "form": form}
    return render(request, "apikeys/key_create.html", context, status=status)


@require_GET
@workspace_page(Perm.KEYS_VIEW)
def apikey_detail(request, workspace, key_id):
    api_key = _key_or_404(request, workspace, key_id, manage=False)
    try:
        get_template(USAGE_PANEL_TEMPLATE)
        usage_panel = USAGE_PANEL_TEMPLATE
    except TemplateDoesNotExist:
        usage_panel = None
    context = {
        **_base_context(workspace),
        "api_key": api_key,
        "can_manage": api_key_can_manage(
            api_key=api_key, role=workspace.membership.role, user_id=request.user.pk
        ),
        "usage_panel": usage_panel,
    }
    return render(request, "apikeys/key_detail.html", context)


@require_http_methods(["GET", "POST"])
@workspace_page(Perm.KEYS_CREATE)
def apikey_edit(request, workspace, key_id):
    api_key = _key_or_404(request, workspace, key_id, manage=True)
    initial = {
        "name": api_key.name,
        "scopes": api_key.scopes,
        "allowed_ips": "\n".join(api_key.allowed_ips),
        "max_tokens_per_request": api_key.max_tokens_per_request,
        "requests_per_minute": api_key.requests_per_minute,
        "tokens_per_minute": api_key.tokens_per_minute,
        "monthly_token_budget": api_key.monthly_token_budget,
        "budget_alert_thresholds": api_key.budget_alert_thresholds,
    }
    form = ApiKeyEditForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.api_key_update(api_key=api_key, actor=request.user, **form.cleaned_data)
        except DomainError as error:
            _form_errors_from(form, error)
        else:
            messages.success(request, "Key updated.")
            return redirect("apikey_detail", workspace_id=workspace.pk, key_id=api_key.public_id)
    status = 400 if form.errors else 200
    context = {**_base_context(workspace), "form": form, "api_key": api_key}
    return render(request, "apikeys/key_edit.html", context, status=status)


@require_http_methods(["GET", "POST"])
@workspace_page(Perm.KEYS_CREATE)
def apikey_rotate(request, workspace, key_id):
    api_key = _key_or_404(request, workspace, key_id, manage=True)
    form = ApiKeyRotateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            api_key, full_key = services.api_key_rotate(
                api_key=api_key, actor=request.user, grace=form.cleaned_data["grace"]
            )
        except DomainError as error:
            _form_errors_from(form, error)
        else:
            context = {
                **_base_context(workspace),
                "api_key": api_key,
                "full_key": full_key,
                "heading": "Key rotated",
            }
            return _no_store(render(request, "apikeys/key_secret.html", context))
    status = 400 if form.errors else 200
    context = {**_base_context(workspace), "form": form, "api_key": api_key}
    return render(request, "apikeys/key_rotate.html", context, status=status)


def _confirm_page(request, workspace, key_id, *, action: str):
    api_key = _key_or_404(request, workspace, key_id, manage=True)
    if request.method == "POST":
        if action == "revoke":
            services.api_key_revoke(api_key=api_key, actor=request.user)
            messages.success(request, f"Key “{api_key.name}” revoked. It no longer works.")
            return redirect("apikey_detail", workspace_id=workspace.pk, key_id=api_key.public_id)
        services.api_key_delete(api_key=api_key, actor=request.user)
        messages.success(request, f"Key “{api_key.name}” deleted.")
        return redirect("apikey_list", workspace_id=workspace.pk)
    context = {**_base_context(workspace), "api_key": api_key, "action": action}
    return render(request, "apikeys/key_confirm.html", context)


@require_http_methods(["GET", "POST"])
@workspace_page(Perm.KEYS_CREATE)
def apikey_revoke(request, workspace, key_id):
    return _confirm_page(request, workspace, key_id, action="revoke")


@require_http_methods(["GET", "POST"])
@workspace_page(Perm.KEYS_CREATE)
def apikey_delete(request, workspace, key_id):
    return _confirm_page(request, workspace, key_id, action="delete")
