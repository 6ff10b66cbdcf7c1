"""Support staff: find keys by prefix or public id and revoke them; never see a hash."""

from __future__ import annotations

from django.contrib import admin, messages

from accounts.admin import ServiceOnlyAdmin
from apikeys.keys import services
from apikeys.keys import tokens as keys
from apikeys.keys.models import ApiKey


@admin.register(ApiKey)
class ApiKeyAdmin(ServiceOnlyAdmin):
    list_display = ("name", "display", "workspace", "environment", "created_at", "revoked_at")
    list_filter = ("environment",)
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
