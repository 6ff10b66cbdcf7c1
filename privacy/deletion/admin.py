"""Staff view of the deletion ledger: read-only."""

from django.contrib import admin

from accounts.admin import ReadOnlyAdmin
from privacy.deletion.models import DeletionRequest


@admin.register(DeletionRequest)
class DeletionRequestAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "kind",
        "target_id",
        "status",
        "requested_at",
        "scheduled_for",
        "attempts",
        "completed_at",
    )
    list_filter = ("kind", "status", "reason")
    search_fields = ("=target_id", "=id")
    date_hierarchy = "requested_at"
