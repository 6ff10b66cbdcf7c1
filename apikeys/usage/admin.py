"""Support staff: read usage records and rollups; client addresses stay hidden."""

from django.contrib import admin

from accounts.admin import ServiceOnlyAdmin
from apikeys.usage.models import UsageDailyRollup, UsageRecord


@admin.register(UsageRecord)
class UsageRecordAdmin(ServiceOnlyAdmin):
    list_display = ("request_id", "workspace_id", "api_key_id", "model", "occurred_at", "status")
    search_fields = ("request_id",)
    exclude = ("client_ip",)


@admin.register(UsageDailyRollup)
class UsageDailyRollupAdmin(ServiceOnlyAdmin):
    list_display = ("day", "workspace_id", "api_key_id", "model", "requests")
