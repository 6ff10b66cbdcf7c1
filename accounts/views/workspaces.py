"""Pages of a workspace: list, create, settings, members, invitations, audit log.

Every workspace page resolves its workspace through `workspace_get_for_user` with the
permission it needs; missing and forbidden both answer 404. Writes go through services
and their rule violations come back as form errors or messages.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from functools import wraps

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import selectors, services
from accounts.errors import DomainError, NotFound
from accounts.forms.workspaces import (
    AuditFilterForm,
    InvitationCreateForm,
    MembershipRoleForm,
    WorkspaceCreateForm,
    WorkspaceDeleteForm,
    WorkspaceRenameForm,
    WorkspaceSettingsForm,
    WorkspaceTransferForm,
)
from accounts.paging import page_without_count
from accounts.permissions import ROLE_PERMISSIONS, Perm, Role, role_can_assign
from accounts.selectors import (
    audit_events_for_workspace,
    invitations_pending_for_user,
    workspace_get_for_user,
    workspaces_for_user,
)

AUDIT_PAGE_SIZE = 50
SESSION_WORKSPACE_KEY = "current_workspace_id"


def workspace_page(permission: str):
    """Resolve `workspace_id` to a workspace the user holds `permission` in, or 404.

    The view receives the workspace (with `.membership`) instead of the id. Viewing a
    page with GET remembers the workspace as the current one for the navigation.
    """

    def decorator(view):
        @wraps(view)
        def wrapper(request, workspace_id, *args, **kwargs):
            try:
                workspace = workspace_get_for_user(
                    user=request.user, workspace_id=workspace_id, permission=permission
                )
            except NotFound:
                raise Http404("No such workspace.") from None
            # Written only when it changes: a session saved on every page view costs a
            # database write per request.
            if request.method == "GET" and request.session.get(SESSION_WORKSPACE_KEY) != str(
                workspace.pk
            ):
                request.session[SESSION_WORKSPACE_KEY] = str(workspace.pk)
            # The navigation shows this membership without reading it again.
            request.workspace_membership = workspace.membership
            return view(request, workspace, *args, **kwargs)

        wrapper.workspace_permission = permission
        return login_required(wrapper)

    return decorator


def _form_errors_from(form, error: DomainError) -> None:
    """Show a service's refusal on the form: on its fields where it names them."""
    placed = False
    for field, field_messages in (error.fields or {}).items():
        if field in form.fields:
            for message in field_messages:
                form.add_error(field, message)
            placed = True
    if not placed:
        form.add_error(None, error.message)


def _perms(workspace) -> frozenset[str]:
    return ROLE_PERMISSIONS[workspace.membership.role]


def _forget_workspace(request, workspace) -> None:
    if request.session.get(SESSION_WORKSPACE_KEY) == str(workspace.pk):
        del request.session[SESSION_WORKSPACE_KEY]


# ---------------------------------------------------------------------------- list, create


@login_required
@require_GET
def workspace_list(request):
    workspaces = workspaces_for_user(user=request.user)
    roles = dict(
        request.user.memberships.filter(workspace__in=workspaces).values_list(
            "workspace_id", "role"
        )
    )
    rows = [(workspace, Role(roles[workspace.pk]).label) for workspace in workspaces]
    return render(
        request,
        "accounts/workspace_list.html",
        {"rows": rows, "pending_invitations": invitations_pending_for_user(user=request.user)},
    )


@login_required
@require_http_methods(["GET", "POST"])
def workspace_create(request):
    form = WorkspaceCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            workspace = services.workspace_create(user=request.user, name=form.cleaned_data["name"])
        except DomainError as error:
            _form_errors_from(form, error)
        else:
            messages.success(request, f"Workspace “{workspace.name}” created.")
            return redirect("workspace_detail", workspace_id=workspace.pk)
    status = 400 if form.errors else 200
    return render(request, "accounts/workspace_create.html", {"form": form}, status=status)


# ---------------------------------------------------------------------------- overview


@require_GET
@workspace_page(Perm.WORKSPACE_VIEW)
def workspace_detail(request, workspace):
    return render(
        request,
        "accounts/workspace_detail.html",
        {
            "workspace": workspace,
            "role": workspace.membership.get_role_display(),
            "members_count": workspace.memberships.count(),
            "ws_perms": _perms(workspace),
            "Perm": Perm,
        },
    )


@require_POST
@workspace_page(Perm.WORKSPACE_VIEW)
def workspace_leave(request, workspace):
    try:
        services.membership_remove(
            workspace=workspace, actor=request.user, membership=workspace.membership
        )
    except DomainError as error:
        messages.error(request, error.message)
        return redirect("workspace_detail", workspace_id=workspace.pk)
    _forget_workspace(request, workspace)
    messages.success(request, f"You left “{workspace.name}”.")
    return redirect("workspace_list")


# ---------------------------------------------------------------------------- settings


def _settings_page(request, workspace, *, status=200, **forms):
    members = selectors.workspace_members(workspace=workspace)
    context = {
        "workspace": workspace,
        "ws_perms": _perms(workspace),
        "Perm": Perm,
        "rename_form": forms.get("rename_form")
        or WorkspaceRenameForm(initial={"name": workspace.name}),
        "settings_form": forms.get("settings_form")
        or WorkspaceSettingsForm(
            initial={
                field: getattr(workspace, field) for field in WorkspaceSettingsForm.base_fields
            }
        ),
        "transfer_form": forms.get("transfer_form")
        or WorkspaceTransferForm(members=members, actor=request.user),
        "delete_form": forms.get("delete_form") or WorkspaceDeleteForm(workspace=workspace),
    }
    return render(request, "accounts/workspace_settings.html", context, status=status)


@require_http_methods(["GET", "POST"])
@workspace_page(Perm.WORKSPACE_UPDATE)
def workspace_settings(request, workspace):
    if request.method == "GET":
        return _settings_page(request, workspace)
    which = request.POST.get("form")
    if which == "rename":
        form = WorkspaceRenameForm(request.POST)
        if form.is_valid():
            try:
                services.workspace_rename(
                    workspace=workspace, actor=request.user, name=form.cleaned_data["name"]
                )
            except DomainError as error:
                _form_errors_from(form, error)
            else:
                messages.success(request, "Workspace renamed.")
                return redirect("workspace_settings", workspace_id=workspace.pk)
        return _settings_page(request, workspace, status=400, rename_form=form)
    if which == "settings":
        form = WorkspaceSettingsForm(request.POST)
        if form.is_valid():
            try:
                services.workspace_settings_update(
                    workspace=workspace, actor=request.user, **form.cleaned_data
                )
            except DomainError as error:
                _form_errors_from(form, error)
            else:
                messages.success(request, "Data-handling settings saved.")
                return redirect("workspace_settings", workspace_id=workspace.pk)
        return _settings_page(request, workspace, status=400, settings_form=form)
    return HttpResponse("Unknown form.", status=400, content_type="text/plain")


@require_POST
@workspace_page(Perm.WORKSPACE_TRANSFER)
def workspace_transfer(request, workspace):
    members = selectors.workspace_members(workspace=workspace)
    form = WorkspaceTransferForm(request.POST, members=members, actor=request.user)
    if form.is_valid():
        new_owner = next(m.user for m in members if m.user_id == form.cleaned_data["new_owner"])
        try:
            services.workspace_transfer_ownership(
                workspace=workspace,
                actor=request.user,
                new_owner=new_owner,
                keep_actor_as=form.cleaned_data["keep_role"],
            )
        except DomainError as error:
            _form_errors_from(form, error)
        else:
            messages.success(request, f"{new_owner.email} now owns this workspace.")
            return redirect("workspace_detail", workspace_id=workspace.pk)
    return _settings_page(request, workspace, status=400, transfer_form=form)


@require_POST
@workspace_page(Perm.WORKSPACE_DELETE)
def workspace_delete(request, workspace):
    form = WorkspaceDeleteForm(request.POST, workspace=workspace)
    if form.is_valid():
        try:
            services.workspace_delete(workspace=workspace, actor=request.user)
        except DomainError as error:
            _form_errors_from(form, error)
        else:
            _forget_workspace(request, workspace)
            messages.success(request, f"Workspace “{workspace.name}” deleted.")
            return redirect("workspace_list")
    return _settings_page(request, workspace, status=400, delete_form=form)


# ---------------------------------------------------------------------------- members


def _members_page(request, workspace, *, status=200, invite_form=None):
    perms = _perms(workspace)
    my_role = workspace.membership.role
    can_manage = Perm.MEMBERS_MANAGE in perms
    assignable = [
        (value, label) for value, label in Role.choices if role_can_assign(my_role, value)
    ]
    rows = []
    for membership in selectors.workspace_members(workspace=workspace):
        is_me = membership.user_id == request.user.pk
        manageable = can_manage and not is_me and role_can_assign(my_role, membership.role)
        rows.append({"membership": membership, "is_me": is_me, "manageable": manageable})
    can_invite = Perm.INVITATIONS_MANAGE in perms
    invite_form = invite_form or InvitationCreateForm()
    invite_form.fields["role"].choices = assignable
    context = {
        "workspace": workspace,
        "ws_perms": perms,
        "Perm": Perm,
        "rows": rows,
        "assignable_roles": assignable,
        "can_invite": can_invite,
        "invitations": selectors.workspace_invitations(workspace=workspace) if can_invite else [],
        "invite_form": invite_form,
    }
    return render(request, "accounts/workspace_members.html", context, status=status)


@require_GET
@workspace_page(Perm.MEMBERS_VIEW)
def workspace_members(request, workspace):
    return _members_page(request, workspace)


@require_POST
@workspace_page(Perm.INVITATIONS_MANAGE)
def workspace_invite(request, workspace):
    form = InvitationCreateForm(request.POST)
    if form.is_valid():
        try:
            invitation, _token = services.invitation_create(
                workspace=workspace,
                actor=request.user,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
            )
        except DomainError as error:
            _form_errors_from(form, error)
        else:
            messages.success(request, f"Invitation sent to {invitation.email}.")
            return redirect("workspace_members", workspace_id=workspace.pk)
    return _members_page(request, workspace, status=400, invite_form=form)


def _membership_or_404(workspace, user_id):
    membership = selectors.workspace_members(workspace=workspace).filter(user_id=user_id).first()
    if membership is None:
        raise Http404("No such member.")
    return membership


@require_POST
@workspace_page(Perm.MEMBERS_MANAGE)
def member_role_change(request, workspace, user_id):
    membership = _membership_or_404(workspace, user_id)
    form = MembershipRoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a valid role.")
    else:
        try:
            services.membership_change_role(
                workspace=workspace,
                actor=request.user,
                membership=membership,
                role=form.cleaned_data["role"],
            )
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(
                request, f"{membership.user.email} is now {membership.get_role_display()}."
            )
    return redirect("workspace_members", workspace_id=workspace.pk)


@require_POST
@workspace_page(Perm.MEMBERS_MANAGE)
def member_remove(request, workspace, user_id):
    membership = _membership_or_404(workspace, user_id)
    if membership.user_id == request.user.pk:
        messages.error(request, "Use “Leave workspace” to remove yourself.")
        return redirect("workspace_members", workspace_id=workspace.pk)
    try:
        services.membership_remove(workspace=workspace, actor=request.user, membership=membership)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"{membership.user.email} was removed.")
    return redirect("workspace_members", workspace_id=workspace.pk)


def _invitation_or_404(workspace, invitation_id):
    invitation = (
        selectors.workspace_invitations(workspace=workspace).filter(pk=invitation_id).first()
    )
    if invitation is None:
        raise Http404("No such invitation.")
    return invitation


@require_POST
@workspace_page(Perm.INVITATIONS_MANAGE)
def invitation_resend(request, workspace, invitation_id):
    invitation = _invitation_or_404(workspace, invitation_id)
    try:
        services.invitation_resend(invitation=invitation, actor=request.user)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"Invitation to {invitation.email} sent again.")
    return redirect("workspace_members", workspace_id=workspace.pk)


@require_POST
@workspace_page(Perm.INVITATIONS_MANAGE)
def invitation_revoke(request, workspace, invitation_id):
    invitation = _invitation_or_404(workspace, invitation_id)
    try:
        services.invitation_revoke(invitation=invitation, actor=request.user)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"Invitation to {invitation.email} revoked.")
    return redirect("workspace_members", workspace_id=workspace.pk)


# ---------------------------------------------------------------------------- audit log


def _audit_filter(request, workspace):
    members = selectors.workspace_members(workspace=workspace)
    form = AuditFilterForm(request.GET or None, members=members)
    if not form.is_bound:
        return form, audit_events_for_workspace(workspace=workspace)
    if not form.is_valid():
        return form, None
    return form, audit_events_for_workspace(workspace=workspace, **form.filters())


_AUDIT_ROW = (
    "<tr>\n<td>{}</td>\n<td><code>{}</code></td>\n<td>{}</td>\n<td>{}</td>\n"
    '<td class="muted">{}</td>\n</tr>\n'
)
_SYSTEM_ACTOR = format_html('<span class="muted">{}</span>', "System")


def _audit_rows_html(events) -> str:
    """Return the table rows of a page of events, worked out here once per event: date
    filters, branches and a loop per cell in the template made up most of the page."""
    return format_html_join(
        "",
        _AUDIT_ROW,
        (
            (
                event.occurred_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S"),
                event.action,
                event.actor_email
                or (f"User {event.actor_id}" if event.actor_id else _SYSTEM_ACTOR),
                f"{event.target_type} {event.target_id}" if event.target_type else "",
                "; ".join(f"{key}: {value}" for key, value in event.metadata.items()),
            )
            for event in events
        ),
    )


@require_GET
@workspace_page(Perm.AUDIT_VIEW)
def workspace_audit(request, workspace):
    form, events = _audit_filter(request, workspace)
    page = None
    if events is not None:
        # The page shows neither the client address nor the chain fields: not decrypted.
        events = events.defer("ip_address", "user_agent", "prev_hash", "entry_hash")
        page = page_without_count(events, request.GET.get("page"), AUDIT_PAGE_SIZE)
    query = {k: v for k, v in request.GET.items() if k != "page" and v}
    return render(
        request,
        "accounts/audit_list.html",
        {
            "workspace": workspace,
            "ws_perms": _perms(workspace),
            "Perm": Perm,
            "form": form,
            "page": page,
            "rows": _audit_rows_html(page) if page is not None else "",
            "query": urlencode(query),
            "csv_url": reverse("workspace_audit_csv", kwargs={"workspace_id": workspace.pk})
            + (f"?{urlencode(query)}" if query else ""),
        },
        status=200 if events is not None else 400,
    )


class _Echo:
    def write(self, value):
        return value


_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _csv_safe(value) -> str:
    # Spreadsheets run cells that start like a formula; prefix them so they stay text.
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_PREFIXES) else text


AUDIT_CSV_COLUMNS = (
    "occurred_at",
    "action",
    "actor_id",
    "actor_email",
    "target_type",
    "target_id",
    "metadata",
    "ip_address",
    "entry_hash",
)


def _audit_rows(events):
    yield AUDIT_CSV_COLUMNS
    for event in events.iterator(chunk_size=2000):
        yield (
            event.occurred_at.isoformat(),
            event.action,
            event.actor_id if event.actor_id is not None else "",
            _csv_safe(event.actor_email),
            event.target_type,
            _csv_safe(event.target_id),
            _csv_safe(json.dumps(event.metadata, sort_keys=True)),
            _csv_safe(event.ip_address),
            event.entry_hash,
        )


@require_GET
@workspace_page(Perm.AUDIT_VIEW)
def workspace_audit_csv(request, workspace):
    form, events = _audit_filter(request, workspace)
    if events is None:
        errors = "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items())
        return HttpResponse(
            f"Invalid filters. {errors}", status=400, content_type="text/plain; charset=utf-8"
        )
    writer = csv.writer(_Echo())
    response = StreamingHttpResponse(
        (writer.writerow(row) for row in _audit_rows(events)),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="audit-{workspace.pk}.csv"'
    return response


# ---------------------------------------------------------------------------- invitations


def _has_verified_address(user, email: str) -> bool:
    return EmailAddress.objects.filter(user=user, email__iexact=email, verified=True).exists()


@require_http_methods(["GET", "POST"])
def invitation_accept(request, token):
    """Show an invitation and let the invited person accept it.

    Failures after a POST redirect back here rather than answering 4xx, so the still
    valid token in the path is never written to the error log.
    """
    try:
        invitation = services.invitation_get_by_token(token=token)
    except NotFound:
        return render(request, "accounts/invitation_invalid.html", status=404)

    if request.method == "POST":
        if not request.user.is_authenticated:
            return redirect(f"{reverse(settings.LOGIN_URL)}?{urlencode({'next': request.path})}")
        try:
            services.invitation_accept(token=token, user=request.user)
        except NotFound:
            return render(request, "accounts/invitation_invalid.html", status=404)
        except DomainError as error:
            messages.error(request, error.message)
            return redirect(request.path)
        return _joined(request, invitation.workspace)

    context = {"invitation": invitation, "next": request.path}
    if not request.user.is_authenticated:
        context["state"] = "signed_out"
        context["login_url"] = f"{reverse('account_login')}?{urlencode({'next': request.path})}"
        context["signup_url"] = f"{reverse('account_signup')}?{urlencode({'next': request.path})}"
    elif invitation.workspace.memberships.filter(user=request.user).exists():
        context["state"] = "member"
    elif _has_verified_address(request.user, invitation.email):
        context["state"] = "can_accept"
    elif request.user.emailaddress_set.filter(email__iexact=invitation.email).exists():
        context["state"] = "unverified"
    else:
        context["state"] = "wrong_account"
    return render(request, "accounts/invitation_accept.html", context)


@login_required
@require_POST
def invitation_accept_by_id(request, invitation_id):
    try:
        membership = services.invitation_accept_for_user(
            invitation_id=invitation_id, user=request.user
        )
    except NotFound:
        raise Http404("No such invitation.") from None
    except DomainError as error:
        messages.error(request, error.message)
        return redirect("workspace_list")
    return _joined(request, membership.workspace)


def _joined(request, workspace):
    request.session[SESSION_WORKSPACE_KEY] = str(workspace.pk)
    messages.success(request, f"You joined “{workspace.name}”.")
    return redirect("workspace_detail", workspace_id=workspace.pk)
