"""The staff queue for privacy requests.

Staff never edit a request's fields directly: verify, start, extend, complete, reject
and notes go through the services, so every change is audited and emailed.
"""

from __future__ import annotations

from statistics import median

from django import forms
from django.contrib import admin, messages
from django.db.models import F
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from accounts.errors import DomainError
from privacy.processors.models import OUTSTANDING_STATES, ProcessorAction
from privacy.requests.models import (
    CLOSED_STATUSES,
    UNRECEIVED_STATUSES,
    PrivacyRequest,
    PrivacyRequestNote,
)
from privacy.requests.services import (
    privacy_request_complete,
    privacy_request_extend,
    privacy_request_note_add,
    privacy_request_reject,
    privacy_request_start,
    privacy_request_verify,
)


class DueFilter(admin.SimpleListFilter):
    title = "due"
    parameter_name = "due"

    def lookups(self, request, model_admin):
        return [
            ("overdue", "Overdue"),
            ("7d", "Due within 7 days"),
            ("30d", "Due within 30 days"),
        ]

    def queryset(self, request, queryset):
        today = timezone.localdate()
        if self.value() == "overdue":
            return queryset.overdue(today=today)
        days = {"7d": 7, "30d": 30}.get(self.value())
        if days:
            return queryset.open().filter(
                due_date__lte=today + timezone.timedelta(days=days), due_date__gte=today
            )
        return queryset


class NoteInline(admin.TabularInline):
    model = PrivacyRequestNote
    extra = 0
    fields = ("created_at", "author", "text")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label="Reason (sent to the requester)", widget=forms.Textarea(attrs={"rows": 4})
    )


class ResolutionForm(forms.Form):
    resolution = forms.CharField(
        label="Outcome (sent to the requester)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
    )


class NoteForm(forms.Form):
    text = forms.CharField(label="Staff note", widget=forms.Textarea(attrs={"rows": 4}))


ACTIONS = {
    "verify": ("Verify identity", None),
    "start": ("Start", None),
    "extend": ("Extend the deadline", ReasonForm),
    "complete": ("Complete", ResolutionForm),
    "reject": ("Reject", ReasonForm),
    "note": ("Add a staff note", NoteForm),
}


@admin.register(PrivacyRequest)
class PrivacyRequestAdmin(admin.ModelAdmin):
    list_display = (
        "submitted_at",
        "request_type",
        "jurisdiction",
        "status",
        "due_date",
        "extended_due_date",
        "overdue",
        "processors",
    )
    list_filter = ("status", "request_type", "jurisdiction", DueFilter)
    search_fields = ("id",)
    ordering = ("due_date",)
    inlines = [NoteInline]
    readonly_fields = (
        "id",
        "request_type",
        "jurisdiction",
        "status",
        "user",
        "email",
        "name",
        "details",
        "submitted_at",
        "received_at",
        "acknowledge_by",
        "acknowledged_at",
        "due_date",
        "extended_due_date",
        "extension_reason",
        "verified_at",
        "started_at",
        "closed_at",
        "closed_reason",
        "resolution",
        "export_id",
        "deletion_id",
        "carried_out_at",
        "processor_actions",
    )
    exclude = ("confirmation_token_hash", "confirmation_expires_at")
    change_form_template = "admin/privacy/privacyrequest/change_form.html"
    change_list_template = "admin/privacy/privacyrequest/change_list.html"

    def get_queryset(self, request):
        return super().get_queryset(request).exclude(status__in=UNRECEIVED_STATUSES)

    @admin.display(boolean=True)
    def overdue(self, obj) -> bool:
        return obj.is_overdue

    @admin.display(description="processors")
    def processors(self, obj) -> str:
        """Processors done out of those asked, e.g. "1 of 2 done"; blank when none."""
        states = list(ProcessorAction.objects.for_request(obj.pk).values_list("state", flat=True))
        if not states:
            return ""
        done = sum(state not in OUTSTANDING_STATES for state in states)
        return f"{done} of {len(states)} done"

    @admin.display(description="Processors' actions")
    def processor_actions(self, obj):
        actions = ProcessorAction.objects.for_request(obj.pk).select_related("processor")
        rows = format_html_join(
            "",
            '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>',
            (
                (
                    reverse("admin:privacy_processoraction_change", args=[action.pk]),
                    action.processor.name,
                    action.get_state_display(),
                    action.sent_at.strftime("%Y-%m-%d %H:%M") if action.sent_at else "—",
                    action.reminders_sent,
                    action.result or action.reason or "",
                )
                for action in actions
            ),
        )
        if not rows:
            return "None: no processor handles this request type."
        return format_html(
            "<table><tr><th>Processor</th><th>State</th><th>Sent</th><th>Reminders</th>"
            "<th>Result or reason</th></tr>{}</table>",
            rows,
        )

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        # The change permission unlocks the actions below (act_view checks it with no
        # object); the detail page itself stays view-only, so no save skips a service.
        return obj is None and super().has_change_permission(request)

    def get_urls(self):
        custom = [
            path(
                "<uuid:object_id>/act/<str:action>/",
                self.admin_site.admin_view(self.act_view),
                name="privacy_privacyrequest_act",
            )
        ]
        return custom + super().get_urls()

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "figures": self.figures()}
        return super().changelist_view(request, extra_context=extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        actions = ACTIONS.items() if self.has_change_permission(request) else ()
        extra_context = {
            **(extra_context or {}),
            "request_actions": [(key, label) for key, (label, _) in actions],
        }
        return super().change_view(request, object_id, form_url, extra_context)

    @staticmethod
    def figures() -> dict:
        requests = PrivacyRequest.objects.all()
        closed = requests.filter(
            status__in=CLOSED_STATUSES, closed_at__isnull=False, received_at__isnull=False
        ).annotate(took=F("closed_at") - F("received_at"))
        durations = [row.took.total_seconds() / 86400 for row in closed.only("id")[:5000]]
        return {
            "open": requests.open().count(),
            "overdue": requests.overdue().count(),
            "median_days_to_close": round(median(durations), 1) if durations else None,
        }

    def act_view(self, request, object_id, action):
        if action not in ACTIONS or not self.has_change_permission(request):
            return redirect("admin:privacy_privacyrequest_changelist")
        privacy_request = get_object_or_404(self.get_queryset(request), pk=object_id)
        label, form_class = ACTIONS[action]
        form = form_class(request.POST or None) if form_class else None
        if request.method == "POST" and (form is None or form.is_valid()):
            data = form.cleaned_data if form else {}
            try:
                self._perform(action, privacy_request, request.user, data)
            except DomainError as exc:
                messages.error(request, exc.message)
            else:
                messages.success(request, f"{label}: done.")
            return redirect(
                reverse("admin:privacy_privacyrequest_change", args=[privacy_request.pk])
            )
        context = {
            **self.admin_site.each_context(request),
            "title": f"{label} — {privacy_request}",
            "form": form,
            "privacy_request": privacy_request,
            "opts": self.model._meta,
            "action_label": label,
        }
        return TemplateResponse(request, "admin/privacy/privacyrequest/act.html", context)

    @staticmethod
    def _perform(action: str, privacy_request, actor, data: dict) -> None:
        if action == "verify":
            privacy_request_verify(request=privacy_request, actor=actor)
        elif action == "start":
            privacy_request_start(request=privacy_request, actor=actor)
        elif action == "extend":
            privacy_request_extend(request=privacy_request, actor=actor, reason=data["reason"])
        elif action == "complete":
            privacy_request_complete(
                request=privacy_request, actor=actor, resolution=data["resolution"]
            )
        elif action == "reject":
            privacy_request_reject(request=privacy_request, actor=actor, reason=data["reason"])
        elif action == "note":
            privacy_request_note_add(request=privacy_request, author=actor, text=data["text"])
