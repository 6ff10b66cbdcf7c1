"""Forms of the support desk: contact support, reply, and the public form."""

from __future__ import annotations

from django import forms

from accounts.models import Membership
from accounts.permissions import Perm, role_has_permission
from apikeys.keys.models import ApiKey
from support import files
from support.models import Category, PublicReason
from support.services import MESSAGE_MAX, SUBJECT_MAX


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files under one name; the service checks their kind and size."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        if not data:
            return []
        items = data if isinstance(data, list | tuple) else [data]
        return [super(MultipleFileField, self).clean(item, initial) for item in items if item]


def _attachments_field() -> MultipleFileField:
    return MultipleFileField(
        label="Attachments (optional)",
        help_text=(
            f"Up to {files.max_files()} files of at most {files.max_bytes() // (1024 * 1024)} MB "
            "each: screenshots (PNG, JPEG, GIF), PDF or plain text. Never attach API keys "
            "or passwords."
        ),
    )


class ReplyForm(forms.Form):
    message = forms.CharField(
        label="Your reply", max_length=MESSAGE_MAX, widget=forms.Textarea(attrs={"rows": 5})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["attachments"] = _attachments_field()


class SupportRequestForm(forms.Form):
    subject = forms.CharField(label="Subject", max_length=SUBJECT_MAX)
    category = forms.ChoiceField(
        label="Category",
        choices=Category.choices,
        help_text="For access, correction or deletion of your data, a formal privacy "
        "request carries legal deadlines.",
    )
    workspace = forms.ChoiceField(label="Workspace (optional)", required=False)
    api_key = forms.ChoiceField(label="API key (optional)", required=False)
    message = forms.CharField(
        label="How can we help?",
        max_length=MESSAGE_MAX,
        widget=forms.Textarea(attrs={"rows": 8}),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        memberships = Membership.objects.of_user(user).order_by("workspace__name")
        self.fields["workspace"].choices = [("", "None")] + [
            (str(m.workspace_id), m.workspace.name) for m in memberships
        ]
        key_workspaces = [
            m.workspace_id for m in memberships if role_has_permission(m.role, Perm.KEYS_VIEW)
        ]
        keys = (
            ApiKey.objects.visible()
            .filter(workspace_id__in=key_workspaces)
            .select_related("workspace")
            .order_by("workspace__name", "name")[:500]
        )
        self.fields["api_key"].choices = [("", "None")] + [
            (key.public_id, f"{key.workspace.name} — {key.name} ({key.public_id})") for key in keys
        ]
        self.fields["attachments"] = _attachments_field()


class PublicSupportForm(forms.Form):
    email = forms.EmailField(
        label="Your account's email address",
        max_length=254,
        help_text="We send a one-time link to this address; nothing reaches us until you open it.",
    )
    name = forms.CharField(label="Your name (optional)", max_length=150, required=False)
    reason = forms.ChoiceField(
        label="What stops you from signing in?", choices=PublicReason.choices
    )
    subject = forms.CharField(label="Subject", max_length=SUBJECT_MAX)
    message = forms.CharField(
        label="Tell us more",
        max_length=MESSAGE_MAX,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="Never send passwords, recovery codes or API keys.",
    )
