"""The staff queue of support requests.

Staff never edit a request's fields: replies, notes, assignment and status changes go
through the services, so every change is audited and every reply emailed. Opening a
request shows the requester's account summary, and that look is recorded as an access
event the requester sees in their activity log.
"""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils import timezone

from accounts.errors import DomainError
from accounts.models import User
from support import files
from support.forms import MultipleFileField
from support.models import UNRECEIVED_STATUSES, Status, SupportAttachment, SupportRequest
from support.services import (
    MESSAGE_MAX,
    STAFF_STATUSES,
    resolution_due,
    response_due,
    support_account_summary,
    support_note_add,
    support_queue_figures,
    support_request_assign,
    support_request_set_status,
    support_requests_over_target,
    support_staff_reply,
)


class AgeFilter(admin.SimpleListFilter):
    title = "age"
    parameter_name = "age"
    AGES = {"1d": ("Under 1 day", 0, 1), "3d": ("1 to 3 days", 1, 3)}
    AGES |= {"7d": ("3 to 7 days", 3, 7), "old": ("Over 7 days", 7, None)}

    def lookups(self, request, model_admin):
        return [(key, label) for key, (label, _, _) in self.AGES.items()]

    def queryset(self, request, queryset):
        if self.value() not in self.AGES:
            return queryset
        _, young, old = self.AGES[self.value()]
        now = timezone.now()
        queryset = queryset.filter(received_at__lte=now - timedelta(days=young))
        if old is not None:
            queryset = queryset.filter(received_at__gt=now - timedelta(days=old))
        return queryset


class AssignedFilter(admin.SimpleListFilter):
    title = "assigned"
    parameter_name = "assigned"

    def lookups(self, request, model_admin):
        return [("me", "Assigned to me"), ("nobody", "Not assigned")]

    def queryset(self, request, queryset):
        if self.value() == "me":
            return queryset.filter(assigned_to=request.user)
        if self.value() == "nobody":
            return queryset.filter(assigned_to__isnull=True)
        return queryset


class TargetFilter(admin.SimpleListFilter):
    title = "first-response target"
    parameter_name = "target"

    def lookups(self, request, model_admin):
        return [("missed", "Waiting on staff longer than the target")]

    def queryset(self, request, queryset):
        if self.value() == "missed":
            return support_requests_over_target(queryset)
        return queryset


class ReplyForm(forms.Form):
    message = forms.CharField(
        label="Reply (emailed to the requester)",
        max_length=MESSAGE_MAX,
        widget=forms.Textarea(attrs={"rows": 6}),
    )
    waiting_on_customer = forms.BooleanField(
        label="We need something from the requester (status: waiting on you)", required=False
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["attachments"] = MultipleFileField(label="Attachments")


class NoteForm(forms.Form):
    text = forms.CharField(
        label="Internal note (never shown to the requester)",
        max_length=MESSAGE_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class AssignForm(forms.Form):
    assignee = forms.ModelChoiceField(
        label="Assign to", queryset=User.objects.none(), required=False, empty_label="Nobody"
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = User.objects.filter(
            is_active=True, is_staff=True
        ).order_by("email")


class StatusForm(forms.Form):
    status = forms.ChoiceField(
        label="Status", choices=[(s.value, s.label) for s in Status if s in STAFF_STATUSES]
    )


FORMS = {"reply": ReplyForm, "note": NoteForm, "assign": AssignForm, "status": StatusForm}


@admin.register(SupportRequest)
class SupportRequestAdmin(admin.ModelAdmin):
    list_display = (
        "received_at",
        "subject_line",
        "category",
        "status",
        "assigned_to",
        "waiting_since",
        "response_due_at",
    )
    list_display_links = ("received_at", "subject_line")
    list_filter = ("status", "category", AgeFilter, AssignedFilter, TargetFilter)
    search_fields = ("id",)
    ordering = ("received_at",)
    readonly_fields = (
        "id",
        "subject",
        "category",
        "status",
        "channel",
        "public_reason",
        "user",
        "email",
        "name",
        "workspace",
        "api_key",
        "assigned_to",
        "created_at",
        "received_at",
        "first_response_at",
        "waiting_since",
        "closed_at",
    )
    fields = readonly_fields
    change_form_template = "admin/support/supportrequest/change_form.html"
    change_list_template = "admin/support/supportrequest/change_list.html"

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .exclude(status__in=UNRECEIVED_STATUSES)
            .select_related("assigned_to", "user")
        )

    @admin.display(description="subject")
    def subject_line(self, obj) -> str:
        return obj.subject

    @admin.display(description="first response due")
    def response_due_at(self, obj):
        return response_due(obj)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        """Nothing is edited here; changes go through the forms below the request."""

    def save_related(self, request, form, formsets, change):
        """See save_model."""

    def get_urls(self):
        custom = [
            path(
                "<uuid:object_id>/act/<str:action>/",
                self.admin_site.admin_view(self.act_view),
                name="support_supportrequest_act",
            ),
            path(
                "<uuid:object_id>/files/<uuid:attachment_id>/",
                self.admin_site.admin_view(self.file_view),
                name="support_supportrequest_file",
            ),
        ]
        return custom + super().get_urls()

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "figures": support_queue_figures()}
        return super().changelist_view(request, extra_context=extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        support_request = self.get_object(request, object_id)
        extra_context = {**(extra_context or {})}
        if support_request is not None and request.method == "GET":
            extra_context.update(
                support_request=support_request,
                thread=support_request.messages.select_related("author").prefetch_related(
                    "attachments"
                ),
                # Recorded as an access event on the requester's activity log.
                summary=support_account_summary(request=support_request, actor=request.user),
                response_due=response_due(support_request),
                resolution_due=resolution_due(support_request),
                can_act=self.has_change_permission(request, support_request),
                forms={
                    "reply": ReplyForm(),
                    "note": NoteForm(),
                    "assign": AssignForm(initial={"assignee": support_request.assigned_to_id}),
                    "status": StatusForm(initial={"status": support_request.status}),
                },
                show_save=False,
                show_save_and_continue=False,
                show_save_and_add_another=False,
                show_delete=False,
            )
        return super().change_view(request, object_id, form_url, extra_context)

    def act_view(self, request, object_id, action):
        back = reverse("admin:support_supportrequest_change", args=[object_id])
        if request.method != "POST" or action not in FORMS:
            return redirect(back)
        support_request = get_object_or_404(self.get_queryset(request), pk=object_id)
        if not self.has_change_permission(request, support_request):
            raise Http404
        form = FORMS[action](request.POST, request.FILES)
        if not form.is_valid():
            messages.error(request, "; ".join(e for errors in form.errors.values() for e in errors))
            return redirect(back)
        data = form.cleaned_data
        try:
            if action == "reply":
                support_staff_reply(
                    request=support_request,
                    actor=request.user,
                    message=data["message"],
                    waiting_on_customer=data["waiting_on_customer"],
                    attachments=data["attachments"],
                )
            elif action == "note":
                support_note_add(request=support_request, actor=request.user, text=data["text"])
            elif action == "assign":
                support_request_assign(
                    request=support_request, actor=request.user, assignee=data["assignee"]
                )
            else:
                support_request_set_status(
                    request=support_request, actor=request.user, status=data["status"]
                )
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, "Done.")
        return redirect(back)

    def file_view(self, request, object_id, attachment_id):
        support_request = get_object_or_404(self.get_queryset(request), pk=object_id)
        if not self.has_view_permission(request, support_request):
            raise Http404
        attachment = get_object_or_404(SupportAttachment, pk=attachment_id, request=support_request)
        try:
            data = files.file_read(attachment_id=attachment.pk)
        except FileNotFoundError as exc:
            raise Http404 from exc
        return files.download_response(attachment=attachment, data=data)
