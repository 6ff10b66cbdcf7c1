"""Support admin for identity and tenancy.

Everything here is read-only except what a service does: deactivating or reactivating
an account, ending its sessions and revoking an invitation are actions that call the
services, so the audit event and the side effects (ended sessions) cannot be skipped,
and staff act on customers only (the service refuses staff and superuser accounts to
them). Nothing is added or deleted here; deletion has its own machinery. Password
hashes, invitation token hashes, session keys and authenticator secrets are never shown.

The pages allauth registers would add email addresses, authenticators or sessions by
hand, past verification, MFA set-up and sign-in: email addresses and sessions are
replaced by read-only pages, authenticators are not in the admin at all. Who may see
which page is decided by the staff groups (docs/security.md, "Staff roles").
"""

from __future__ import annotations

import uuid

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.usersessions.models import UserSession
from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.models import Group
from django.db.models import Exists, OuterRef
from django.template.response import TemplateResponse

from accounts.errors import DomainError
from accounts.models import AuditEvent, Invitation, Membership, OutboundEmail, User, Workspace
from accounts.services import (
    MFA_REMOVAL_REASON_MAX,
    STAFF_ROLES,
    invitation_revoke_by_staff,
    user_mfa_remove_by_staff,
    user_sessions_end_by_staff,
    user_set_active,
    user_staff_roles_set,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows that are looked at, never added, changed or deleted in the admin."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ServiceOnlyAdmin(admin.ModelAdmin):
    """View pages only; the change permission unlocks the list actions and nothing else."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        # Actions are checked with obj=None; a detail page (obj given) stays view-only,
        # so the admin never saves a model itself.
        return obj is None and super().has_change_permission(request)


class StaffRolesForm(forms.Form):
    roles = forms.MultipleChoiceField(
        choices=[(role, role) for role in STAFF_ROLES],
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )


class MfaRemovalForm(forms.Form):
    reason = forms.CharField(
        label="How was the person's identity checked?",
        max_length=MFA_REMOVAL_REASON_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Recorded in the audit log, for instance the support request it answers.",
    )


@admin.register(User)
class UserAdmin(ServiceOnlyAdmin):
    list_display = ("email", "name", "is_active", "is_staff", "date_joined", "mfa_enabled")
    list_filter = ("is_active", "is_staff")
    search_fields = ("email",)
    # The name is ciphertext in the database; sorting by it would mean nothing.
    sortable_by = ("email", "is_active", "is_staff", "date_joined")
    ordering = ("email",)
    # The password hash is left out entirely, and so are per-user permissions.
    fields = (
        "email",
        "name",
        "is_active",
        "is_staff",
        "is_superuser",
        "groups",
        "date_joined",
        "last_login",
        "age_confirmed_at",
        "marketing_emails",
    )
    exclude = ("password", "user_permissions")
    actions = (
        "deactivate_users",
        "reactivate_users",
        "end_sessions",
        "remove_mfa",
        "set_staff_roles",
    )

    def get_queryset(self, request):
        totp = Authenticator.objects.filter(user_id=OuterRef("pk"), type=Authenticator.Type.TOTP)
        return super().get_queryset(request).annotate(has_totp=Exists(totp))

    @admin.display(boolean=True, description="MFA enabled", ordering="has_totp")
    def mfa_enabled(self, obj) -> bool:
        return obj.has_totp

    @admin.action(
        description="Deactivate selected accounts (ends their sessions)", permissions=["change"]
    )
    def deactivate_users(self, request, queryset):
        self._set_active(request, queryset, is_active=False)

    @admin.action(description="Reactivate selected accounts", permissions=["change"])
    def reactivate_users(self, request, queryset):
        self._set_active(request, queryset, is_active=True)

    @admin.action(
        description="End all sessions of selected accounts (signs them out everywhere)",
        permissions=["end_sessions"],
    )
    def end_sessions(self, request, queryset):
        ended = 0
        for user in queryset:
            try:
                ended += user_sessions_end_by_staff(user=user, actor=request.user)
            except DomainError as exc:
                self.message_user(request, f"{user.email}: {exc}", messages.ERROR)
        self.message_user(request, f"{ended} session(s) ended.", messages.SUCCESS)

    def has_end_sessions_permission(self, request) -> bool:
        return request.user.has_perm("accounts.end_sessions")

    @admin.action(
        description="Remove the second factor of selected accounts (after an identity check)",
        permissions=["remove_mfa"],
    )
    def remove_mfa(self, request, queryset):
        form = MfaRemovalForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            removed = 0
            for user in queryset:
                try:
                    user_mfa_remove_by_staff(
                        user=user, actor=request.user, reason=form.cleaned_data["reason"]
                    )
                except DomainError as exc:
                    self.message_user(request, f"{user.email}: {exc}", messages.ERROR)
                    continue
                removed += 1
            self.message_user(
                request,
                f"Second factor removed from {removed} account(s); they were signed out "
                "everywhere and told by email.",
                messages.SUCCESS,
            )
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Remove second factor",
            "users": queryset,
            "form": form,
            "opts": self.model._meta,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/accounts/user/remove_mfa.html", context)

    def has_remove_mfa_permission(self, request) -> bool:
        return request.user.has_perm("accounts.remove_mfa")

    @admin.action(description="Set staff roles of selected accounts", permissions=["staff_roles"])
    def set_staff_roles(self, request, queryset):
        form = StaffRolesForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            changed = 0
            for user in queryset:
                try:
                    user_staff_roles_set(
                        user=user, roles=form.cleaned_data["roles"], actor=request.user
                    )
                except DomainError as exc:
                    self.message_user(request, f"{user.email}: {exc}", messages.ERROR)
                    continue
                changed += 1
            self.message_user(request, f"Roles set on {changed} account(s).", messages.SUCCESS)
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Set staff roles",
            "users": queryset,
            "form": form,
            "opts": self.model._meta,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/accounts/user/staff_roles.html", context)

    def has_staff_roles_permission(self, request) -> bool:
        # Configuration: a role's permissions are what its members may do.
        return request.user.is_active and request.user.is_superuser

    def _set_active(self, request, queryset, *, is_active: bool) -> None:
        changed = 0
        for user in queryset:
            if user.pk == request.user.pk and not is_active:
                self.message_user(request, "You cannot deactivate yourself.", messages.ERROR)
                continue
            if user.is_active != is_active:
                try:
                    user_set_active(user=user, is_active=is_active, actor=request.user)
                except DomainError as exc:
                    self.message_user(request, f"{user.email}: {exc}", messages.ERROR)
                    continue
                changed += 1
        verb = "reactivated" if is_active else "deactivated"
        self.message_user(request, f"{changed} account(s) {verb}.", messages.SUCCESS)


class MembershipInline(admin.TabularInline):
    model = Membership
    fields = ("user", "role", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class DeletedFilter(admin.SimpleListFilter):
    title = "deleted"
    parameter_name = "deleted"

    def lookups(self, request, model_admin):
        return (("no", "Live"), ("yes", "Deleted"))

    def queryset(self, request, queryset):
        if self.value() == "no":
            return queryset.filter(deleted_at__isnull=True)
        if self.value() == "yes":
            return queryset.filter(deleted_at__isnull=False)
        return queryset


@admin.register(Workspace)
class WorkspaceAdmin(ServiceOnlyAdmin):
    list_display = ("name", "id", "is_personal", "created_at", "is_deleted", "deleted_at")
    list_filter = (DeletedFilter, "is_personal")
    search_fields = ("name",)
    readonly_fields = ("id",)
    inlines = (MembershipInline,)

    @admin.display(boolean=True, description="Deleted", ordering="deleted_at")
    def is_deleted(self, obj) -> bool:
        return obj.deleted_at is not None

    def get_search_results(self, request, queryset, search_term):
        base = queryset
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        # A pasted workspace id finds that workspace; other text searches names only.
        try:
            workspace_id = uuid.UUID(search_term.strip())
        except ValueError:
            return queryset, may_have_duplicates
        return queryset | base.filter(pk=workspace_id), may_have_duplicates


@admin.register(Membership)
class MembershipAdmin(ServiceOnlyAdmin):
    list_display = ("user", "workspace", "role", "created_at")
    list_filter = ("role",)
    search_fields = ("user__email", "workspace__name")
    list_select_related = ("user", "workspace")


@admin.register(Invitation)
class InvitationAdmin(ServiceOnlyAdmin):
    list_display = ("email", "workspace", "role", "status", "created_at", "expires_at")
    list_filter = ("role",)
    search_fields = ("email", "workspace__name")
    list_select_related = ("workspace",)
    # The token hash is left out: it is a credential for accepting the invitation.
    fields = (
        "workspace",
        "email",
        "role",
        "status",
        "invited_by",
        "created_at",
        "sent_at",
        "expires_at",
        "accepted_at",
        "accepted_by",
        "revoked_at",
    )
    readonly_fields = ("status",)
    exclude = ("token_hash",)
    actions = ("revoke_invitations",)

    @admin.action(description="Revoke selected invitations", permissions=["change"])
    def revoke_invitations(self, request, queryset):
        revoked = 0
        for invitation in queryset:
            if invitation.revoked_at:
                continue
            try:
                invitation_revoke_by_staff(invitation=invitation, actor=request.user)
            except DomainError as exc:
                self.message_user(request, f"{invitation.email}: {exc}", messages.WARNING)
                continue
            revoked += 1
        self.message_user(request, f"{revoked} invitation(s) revoked.", messages.SUCCESS)


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """The audit log as support sees it, personal fields included. Nobody may change it."""

    list_display = (
        "occurred_at",
        "action",
        "actor_id",
        "actor_email",
        "subject_user_id",
        "workspace_id",
        "target_type",
        "target_id",
        "ip_address",
    )
    list_filter = ("action",)
    search_fields = ("action", "target_type", "target_id")
    sortable_by = ("occurred_at", "action")
    date_hierarchy = "occurred_at"
    # Counting a large append-only table on every page view is not worth it.
    show_full_result_count = False


@admin.register(OutboundEmail)
class OutboundEmailAdmin(ReadOnlyAdmin):
    """The outbox's state only: recipients, subject and body hold one-time links and
    personal data, so they are neither listed nor shown."""

    list_display = ("id", "kind", "status", "attempts", "created_at", "sent_at", "last_error")
    list_filter = ("status", "kind")
    fields = (
        "kind",
        "ref",
        "status",
        "attempts",
        "created_at",
        "next_attempt_at",
        "claimed_until",
        "sent_at",
        "last_error",
    )
    readonly_fields = fields
    ordering = ("-id",)


def _reregister(model, admin_class) -> None:
    if admin.site.is_registered(model):
        admin.site.unregister(model)
    if admin_class is not None:
        admin.site.register(model, admin_class)


class GroupAdmin(ReadOnlyAdmin, DjangoGroupAdmin):
    """Staff roles, shown to superusers only and to them read-only. A group's permissions
    are what its members may do, so a staff member who could change groups could grant
    themselves anything; the roles are defined by migrations, reviewed like code, so
    nobody edits them here, where the change would leave no audit event."""

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser


class EmailAddressAdmin(ReadOnlyAdmin):
    """Addresses as allauth verified them; adding or verifying one by hand would skip
    the confirmation email that proves the mailbox."""

    list_display = ("email", "user", "primary", "verified")
    list_filter = ("primary", "verified")
    search_fields = ("email", "user__email")
    list_select_related = ("user",)
    fields = ("user", "email", "primary", "verified")
    readonly_fields = fields
    actions = None


class UserSessionAdmin(ReadOnlyAdmin):
    """Where and when an account is signed in. The session key is a credential and is
    never shown; ending sessions is the account's "End all sessions" action."""

    list_display = ("user", "created_at", "last_seen_at", "ip", "user_agent")
    search_fields = ("user__email", "ip")
    list_select_related = ("user",)
    fields = ("user", "created_at", "last_seen_at", "ip", "user_agent")
    readonly_fields = fields
    actions = None


_reregister(Group, GroupAdmin)
_reregister(EmailAddress, EmailAddressAdmin)
_reregister(UserSession, UserSessionAdmin)
# Authenticator rows hold TOTP secrets and recovery codes; MFA is set up and removed by
# the account holder through allauth only.
_reregister(Authenticator, None)
