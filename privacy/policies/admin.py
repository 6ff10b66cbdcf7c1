"""Staff views of the privacy center. Every change goes through the services."""

import uuid

from django import forms
from django.contrib import admin, messages

from accounts.admin import ReadOnlyAdmin
from accounts.errors import DomainError
from privacy import (
    admin_requests,  # noqa: F401  (registers the privacy request queue)
    admin_retention,  # noqa: F401  (deletion ledger, retention runs)
)
from privacy.models import ConsentRecord, PolicyAcceptance, PolicyNotice, PolicyVersion
from privacy.services import (
    POLICY_DRAFT_FIELDS,
    policy_version_create,
    policy_version_publish,
    policy_version_update,
)


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


class PolicyVersionForm(forms.ModelForm):
    class Meta:
        model = PolicyVersion
        fields = ("kind", *POLICY_DRAFT_FIELDS)

    def clean(self):
        cleaned = super().clean()
        kind, version = cleaned.get("kind"), cleaned.get("version")
        others = PolicyVersion.objects.filter(kind=kind, version=version)
        if self.instance.pk:
            others = others.exclude(pk=self.instance.pk)
        if kind and version and others.exists():
            self.add_error("version", "That version label is already used for this policy.")
        return cleaned


@admin.register(PolicyVersion)
class PolicyVersionAdmin(admin.ModelAdmin):
    form = PolicyVersionForm
    list_display = (
        "kind",
        "version",
        "effective_at",
        "material_change",
        "published_at",
        "notice_send_at",
        "notices_completed_at",
    )
    list_filter = ("kind", "material_change")
    actions = ["publish"]
    readonly_fields = ("published_at", "notice_days", "notice_send_at", "notices_completed_at")

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.is_published:
            # Published text is the proof of what people were shown; it never changes.
            return ("kind", *POLICY_DRAFT_FIELDS, *self.readonly_fields)
        if obj is not None:
            return ("kind", *self.readonly_fields)
        return self.readonly_fields

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        data = {
            name: form.cleaned_data[name]
            for name in POLICY_DRAFT_FIELDS
            if name in form.cleaned_data
        }
        try:
            if change:
                saved = policy_version_update(policy_version=obj, actor=request.user, **data)
            else:
                saved = policy_version_create(
                    actor=request.user, kind=form.cleaned_data["kind"], **data
                )
        except DomainError as error:
            messages.error(request, error.message)
            return
        obj.pk = saved.pk

    @admin.action(description="Publish selected drafts")
    def publish(self, request, queryset):
        for policy in queryset:
            try:
                policy_version_publish(policy_version=policy, actor=request.user)
            except DomainError as error:
                messages.error(request, f"{policy}: {error.message}")
            else:
                messages.success(request, f"{policy} published.")


@admin.register(PolicyNotice)
class PolicyNoticeAdmin(ReadOnlyAdmin):
    list_display = ("policy_version", "user", "sent_at")
    list_filter = ("policy_version",)
    list_select_related = ("policy_version", "user")
    search_fields = ("user__email",)


@admin.register(PolicyAcceptance)
class PolicyAcceptanceAdmin(ReadOnlyAdmin):
    list_display = ("policy_version", "user", "source", "accepted_at")
    list_filter = ("policy_version", "source")
    list_select_related = ("policy_version", "user")
    search_fields = ("user__email",)
