"""Staff views of policy versions, notices and acceptances. Every change goes through the
services."""

from django import forms
from django.contrib import admin, messages

from accounts.admin import ReadOnlyAdmin
from accounts.errors import DomainError
from privacy.policies.models import PolicyAcceptance, PolicyNotice, PolicyVersion
from privacy.policies.services import (
    POLICY_DRAFT_FIELDS,
    policy_version_create,
    policy_version_publish,
    policy_version_update,
)


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

    @admin.action(description="Publish selected drafts", permissions=["change"])
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
    list_display = ("policy_version", "user", "queued_at", "sent_at")
    list_filter = ("policy_version",)
    list_select_related = ("policy_version", "user")
    search_fields = ("user__email",)


@admin.register(PolicyAcceptance)
class PolicyAcceptanceAdmin(ReadOnlyAdmin):
    list_display = ("policy_version", "user", "source", "accepted_at")
    list_filter = ("policy_version", "source")
    list_select_related = ("policy_version", "user")
    search_fields = ("user__email",)
