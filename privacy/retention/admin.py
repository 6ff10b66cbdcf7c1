"""Admin of the retention runs, with the retention overview page."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path

from accounts.admin import ReadOnlyAdmin
from privacy.retention.models import RetentionRun
from privacy.retention.services import retention_overview


@admin.register(RetentionRun)
class RetentionRunAdmin(ReadOnlyAdmin):
    list_display = ("started_at", "status", "duration_ms", "longest_batch_ms", "counts")
    list_filter = ("status",)
    date_hierarchy = "started_at"

    def get_urls(self):
        extra = [
            path(
                "overview/",
                self.admin_site.admin_view(self.overview_view),
                name="privacy_retention_overview",
            )
        ]
        return extra + super().get_urls()

    def overview_view(self, request):
        """List the oldest record of each category against its period."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "title": "Retention overview",
            "rows": retention_overview(),
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "privacy/retention_overview.html", context)

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "overview_url": "overview/"}
        return super().changelist_view(request, extra_context)
