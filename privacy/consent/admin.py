"""Staff view of the consent records (proof of consent): read-only."""

import uuid

from django.contrib import admin

from accounts.admin import ReadOnlyAdmin
from privacy.consent.models import ConsentRecord


@admin.register(ConsentRecord)
class ConsentRecordAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "visitor_id",
        "user",
        "category_list",
        "method",
        "gpc",
        "cookie_policy_version",
        "banner_version",
    )
    list_filter = ("method", "gpc", "cookie_policy_version")
    list_select_related = ("user", "cookie_policy_version")
    search_fields = ("user__email",)
    search_help_text = "A visitor id (exact) or part of an account's email address."
    date_hierarchy = "created_at"
    readonly_fields = [field.name for field in ConsentRecord._meta.fields]

    @admin.display(description="Categories")
    def category_list(self, record):
        return ", ".join(record.categories)

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        try:
            visitor_id = uuid.UUID(term)
        except ValueError:
            return super().get_search_results(request, queryset, search_term)
        return queryset.filter(visitor_id=visitor_id), False
