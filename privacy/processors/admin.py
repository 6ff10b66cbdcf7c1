"""The processor registry and processors' actions in the admin (the Privacy role).

Staff never save these models through the admin's own forms: registering, editing,
rotating and overriding go through the services, so each change is audited. Secrets
and tokens are shown once, on the page that follows their creation.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from accounts.errors import DomainError, form_add_domain_errors
from privacy.processors.models import (
    SETTLED_STATES,
    Processor,
    ProcessorAction,
    ProcessorRequestKind,
    SubjectIdentifier,
)
from privacy.processors.services import (
    processor_action_override,
    processor_create,
    processor_rotate_secret,
    processor_rotate_token,
    processor_update,
)


class ProcessorForm(forms.Form):
    name = forms.CharField(max_length=100)
    purpose = forms.CharField(max_length=1000, widget=forms.Textarea(attrs={"rows": 3}))
    url = forms.URLField(label="Endpoint URL", max_length=2000, assume_scheme="https")
    request_kinds = forms.MultipleChoiceField(
        label="Request types it handles",
        choices=ProcessorRequestKind.choices,
        widget=forms.CheckboxSelectMultiple,
    )
    identifiers = forms.MultipleChoiceField(
        label="Identifiers it needs (it is sent these and nothing more)",
        choices=SubjectIdentifier.choices,
        widget=forms.CheckboxSelectMultiple,
    )


class ProcessorEditForm(ProcessorForm):
    disabled = forms.BooleanField(
        required=False, help_text="A disabled processor is sent no new requests."
    )


class OverrideForm(forms.Form):
    reason = forms.CharField(
        label="Reason (recorded and audited)",
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )


@admin.register(Processor)
class ProcessorAdmin(admin.ModelAdmin):
    list_display = ("name", "kinds", "needs", "url", "disabled_at", "created_at")
    search_fields = ("name",)
    fields = (
        "name",
        "purpose",
        "url",
        "request_kinds",
        "identifiers",
        "token_public_id",
        "webhook_endpoint",
        "disabled_at",
        "created_at",
        "updated_at",
        "secret_rotated_at",
        "token_rotated_at",
    )
    readonly_fields = fields
    change_form_template = "admin/privacy/processor/change_form.html"

    @admin.display(description="handles")
    def kinds(self, obj) -> str:
        labels = dict(ProcessorRequestKind.choices)
        return ", ".join(labels.get(k, k) for k in obj.request_kinds)

    @admin.display(description="needs")
    def needs(self, obj) -> str:
        labels = dict(SubjectIdentifier.choices)
        return ", ".join(labels.get(i, i) for i in obj.identifiers)

    def has_delete_permission(self, request, obj=None):
        # Actions point at their processor, which is their proof; disable instead.
        return False

    def has_change_permission(self, request, obj=None):
        # The detail page is view-only; the edit and rotate pages check this with no object.
        return obj is None and super().has_change_permission(request)

    def get_urls(self):
        view = self.admin_site.admin_view
        custom = [
            path("<int:object_id>/edit/", view(self.edit_view), name="privacy_processor_edit"),
            path(
                "<int:object_id>/rotate/<str:what>/",
                view(self.rotate_view),
                name="privacy_processor_rotate",
            ),
        ]
        return custom + super().get_urls()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "can_edit": self.has_change_permission(request),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def _page(self, request, template: str, title: str, **context):
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": title,
            **context,
        }
        return TemplateResponse(request, f"admin/privacy/processor/{template}", context)

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = ProcessorForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                processor, secret, token = processor_create(actor=request.user, **form.cleaned_data)
            except DomainError as exc:
                form_add_domain_errors(form, exc)
            else:
                return self._page(
                    request,
                    "secrets.html",
                    f"{processor.name} is registered",
                    processor=processor,
                    signing_secret=secret,
                    token=token,
                )
        return self._page(request, "form.html", "Register a processor", form=form)

    def edit_view(self, request, object_id):
        if not self.has_change_permission(request):
            raise PermissionDenied
        processor = get_object_or_404(Processor, pk=object_id)
        initial = {
            "name": processor.name,
            "purpose": processor.purpose,
            "url": processor.url,
            "request_kinds": processor.request_kinds,
            "identifiers": processor.identifiers,
            "disabled": processor.disabled_at is not None,
        }
        form = ProcessorEditForm(request.POST or None, initial=initial)
        if request.method == "POST" and form.is_valid():
            try:
                processor_update(processor=processor, actor=request.user, **form.cleaned_data)
            except DomainError as exc:
                form_add_domain_errors(form, exc)
            else:
                messages.success(request, "The processor was changed.")
                return redirect(reverse("admin:privacy_processor_change", args=[processor.pk]))
        return self._page(
            request, "form.html", f"Change {processor.name}", form=form, processor=processor
        )

    def rotate_view(self, request, object_id, what):
        if what not in ("secret", "token") or not self.has_change_permission(request):
            raise PermissionDenied
        processor = get_object_or_404(Processor, pk=object_id)
        if request.method != "POST":
            return self._page(
                request,
                "rotate.html",
                f"Rotate the {what} of {processor.name}",
                processor=processor,
                what=what,
            )
        if what == "secret":
            secret = processor_rotate_secret(processor=processor, actor=request.user)
            return self._page(
                request,
                "secrets.html",
                f"New signing secret for {processor.name}",
                processor=processor,
                signing_secret=secret,
            )
        token = processor_rotate_token(processor=processor, actor=request.user)
        return self._page(
            request,
            "secrets.html",
            f"New callback token for {processor.name}",
            processor=processor,
            token=token,
        )


@admin.register(ProcessorAction)
class ProcessorActionAdmin(admin.ModelAdmin):
    list_display = (
        "public_id",
        "processor",
        "kind",
        "state",
        "privacy_request_id",
        "deletion_id",
        "sent_at",
        "reminders_sent",
        "closed_at",
    )
    list_filter = ("state", "kind", "processor")
    search_fields = ("=public_id", "=privacy_request_id")
    exclude = ("identifiers",)
    change_form_template = "admin/privacy/processoraction/change_form.html"

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields if f.name != "identifiers"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        # The change permission unlocks the override; the detail page stays view-only.
        return obj is None and super().has_change_permission(request)

    def get_urls(self):
        custom = [
            path(
                "<int:object_id>/override/",
                self.admin_site.admin_view(self.override_view),
                name="privacy_processoraction_override",
            )
        ]
        return custom + super().get_urls()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        action = ProcessorAction.objects.filter(pk=object_id).first()
        extra_context = {
            **(extra_context or {}),
            "can_override": bool(
                action
                and action.state not in SETTLED_STATES
                and self.has_change_permission(request)
            ),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def override_view(self, request, object_id):
        if not self.has_change_permission(request):
            raise PermissionDenied
        action = get_object_or_404(
            ProcessorAction.objects.select_related("processor"), pk=object_id
        )
        form = OverrideForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                processor_action_override(
                    action=action, actor=request.user, reason=form.cleaned_data["reason"]
                )
            except DomainError as exc:
                messages.error(request, exc.message)
            else:
                messages.success(request, "The action is settled by staff override.")
            return redirect(reverse("admin:privacy_processoraction_change", args=[action.pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Override — {action.processor.name}",
            "form": form,
            "action": action,
        }
        return TemplateResponse(request, "admin/privacy/processoraction/override.html", context)
