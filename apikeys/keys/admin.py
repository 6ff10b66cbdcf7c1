"""Staff: find keys by prefix or public id, revoke them and file leaked-key reports;
never see a hash. Revoking and reporting need the change permission (Security)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from accounts.admin import ServiceOnlyAdmin
from apikeys.keys import services
from apikeys.keys import tokens as keys
from apikeys.keys.models import ApiKey


class LeakReportForm(forms.Form):
    key = forms.CharField(
        label="Reported key",
        max_length=200,
        strip=True,
        widget=forms.PasswordInput(render_value=False),
    )
    source = forms.CharField(
        label="Where it was found (sent to the workspace owners)",
        max_length=100,
        required=False,
    )

    def clean_source(self):
        # The source ends up in an email; keep it on one printable line.
        return " ".join(self.cleaned_data["source"].split())


@admin.register(ApiKey)
class ApiKeyAdmin(ServiceOnlyAdmin):
    list_display = ("name", "display", "workspace", "environment", "created_at", "revoked_at")
    list_filter = ("environment", "revoked_reason")
    search_fields = ("public_id", "name")
    list_select_related = ("workspace",)
    # Hashes, pepper ids and the encrypted IP are deliberately absent.
    fields = (
        "name",
        "public_id",
        "workspace",
        "environment",
        "scopes",
        "created_by",
        "created_at",
        "expires_at",
        "revoked_at",
        "revoked_reason",
        "deleted_at",
        "rotated_at",
        "previous_secret_expires_at",
        "last_used_at",
        "allowed_ips",
        "max_tokens_per_request",
        "requests_per_minute",
        "tokens_per_minute",
        "monthly_token_budget",
    )
    readonly_fields = fields
    actions = ["revoke_keys"]

    def get_search_results(self, request, queryset, search_term):
        # A pasted key or key prefix ("cnsl_prod_<public id>…") finds its key.
        public_id = keys.display_from_string(search_term.strip())
        if public_id:
            return queryset.filter(public_id=public_id), False
        return super().get_search_results(request, queryset, search_term)

    @admin.action(description="Revoke selected keys", permissions=["change"])
    def revoke_keys(self, request, queryset):
        count = 0
        for api_key in queryset:
            if api_key.revoked_at is None:
                services.api_key_revoke(
                    api_key=api_key, actor=request.user, reason="revoked_by_staff", by_staff=True
                )
                count += 1
        self.message_user(request, f"Revoked {count} key(s).", messages.SUCCESS)

    def get_urls(self):
        custom = [
            path(
                "report-leak/",
                self.admin_site.admin_view(self.report_leak_view),
                name="apikeys_apikey_report_leak",
            )
        ]
        return custom + super().get_urls()

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "can_report_leak": self.has_change_permission(request),
        }
        return super().changelist_view(request, extra_context=extra_context)

    def report_leak_view(self, request):
        """File a leaked-key report received by staff, through the same service as the
        public endpoint, and say what happened."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        form = LeakReportForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            api_key = services.api_key_report_leaked(
                key=form.cleaned_data["key"],
                source=form.cleaned_data["source"],
                actor=request.user,
            )
            if api_key is None:
                self.message_user(
                    request,
                    "No active key matches the report (unknown, already revoked or expired); "
                    "nothing changed.",
                    messages.WARNING,
                )
                return redirect(reverse("admin:apikeys_apikey_changelist"))
            self.message_user(
                request,
                f"Revoked {api_key.name} in {api_key.workspace.name}; its owners were emailed.",
                messages.SUCCESS,
            )
            return redirect(reverse("admin:apikeys_apikey_change", args=[api_key.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": "Report a leaked key",
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/apikeys/apikey/report_leak.html", context)
