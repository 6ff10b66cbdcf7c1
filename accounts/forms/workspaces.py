"""Forms for workspaces, members, invitations and the audit log.

Forms check the shape of the input; the services enforce the rules.
"""

from django import forms

from accounts.audit import Action
from accounts.forms.widgets import QuickSelect
from accounts.models import WORKSPACE_BUDGET_MAX
from accounts.permissions import Role
from accounts.validators import email_normalise, validate_name


class BudgetThresholdsField(forms.CharField):
    """Percentages typed as "50, 80, 100"; the service checks the rules."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("max_length", 40)
        super().__init__(**kwargs)

    def prepare_value(self, value):
        if isinstance(value, list | tuple):
            return ", ".join(str(item) for item in value)
        return value

    def to_python(self, value):
        text = super().to_python(value)
        parts = [part.strip() for part in text.replace(";", ",").split(",") if part.strip()]
        if not all(part.isdecimal() and len(part) <= 3 for part in parts):
            raise forms.ValidationError("Whole percentages from 1 to 100, separated by commas.")
        return [int(part) for part in parts]


class WorkspaceCreateForm(forms.Form):
    name = forms.CharField(
        label="Workspace name", max_length=100, strip=True, validators=[validate_name]
    )


class WorkspaceRenameForm(forms.Form):
    name = forms.CharField(
        label="Workspace name", max_length=100, strip=True, validators=[validate_name]
    )


class WorkspaceSettingsForm(forms.Form):
    usage_retention_days = forms.IntegerField(
        label="Usage retention (days)",
        min_value=30,
        max_value=90,
        help_text="How long usage records are kept: 30 to 90 days.",
    )
    zero_data_retention = forms.BooleanField(
        label="Zero data retention",
        required=False,
        help_text="Ask the model API not to store prompts or completions.",
    )
    training_opt_out = forms.BooleanField(
        label="Opt out of model training",
        required=False,
        help_text="Data from this workspace is never used to train models.",
    )
    max_key_lifetime_days = forms.IntegerField(
        label="Maximum API key lifetime (days)",
        min_value=1,
        max_value=3650,
        required=False,
        help_text="Leave empty for keys that do not have to expire.",
    )
    monthly_token_budget = forms.IntegerField(
        label="Monthly token budget",
        min_value=1,
        max_value=WORKSPACE_BUDGET_MAX,
        required=False,
        help_text="Tokens all keys may use per calendar month (UTC). Empty: none.",
    )
    budget_alert_thresholds = BudgetThresholdsField(
        label="Budget alert thresholds (%)",
        help_text="Owners and admins get one email per month at each of these percentages "
        "of a budget, for example 50, 80, 100. Empty: no alerts.",
    )


class WorkspaceTransferForm(forms.Form):
    new_owner = forms.TypedChoiceField(label="New owner", coerce=int, empty_value=None)
    keep_role = forms.ChoiceField(
        label="Your role afterwards",
        choices=[(Role.ADMIN, "Admin"), (Role.DEVELOPER, "Developer"), (Role.VIEWER, "Viewer")],
        initial=Role.ADMIN,
    )

    def __init__(self, *args, members=(), actor=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["new_owner"].choices = [("", "Choose a member")] + [
            (m.user_id, m.user.get_full_name() + f" ({m.user.email})")
            for m in members
            if actor is None or m.user_id != actor.pk
        ]


class WorkspaceDeleteForm(forms.Form):
    confirm_name = forms.CharField(
        label="Type the workspace name to confirm", max_length=100, strip=True
    )

    def __init__(self, *args, workspace=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.workspace = workspace

    def clean_confirm_name(self):
        value = self.cleaned_data["confirm_name"]
        if self.workspace is not None and value != self.workspace.name:
            raise forms.ValidationError("The name does not match this workspace.")
        return value


class InvitationCreateForm(forms.Form):
    email = forms.EmailField(label="Email address", max_length=254)
    role = forms.ChoiceField(label="Role", choices=Role.choices, initial=Role.DEVELOPER)

    def clean_email(self) -> str:
        return email_normalise(self.cleaned_data["email"])


class MembershipRoleForm(forms.Form):
    role = forms.ChoiceField(label="Role", choices=Role.choices)


class AuditFilterForm(forms.Form):
    action = forms.ChoiceField(label="Action", required=False, widget=QuickSelect)
    actor = forms.TypedChoiceField(
        label="Actor", required=False, coerce=int, empty_value=None, widget=QuickSelect
    )
    since = forms.DateField(
        label="From", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        label="To", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, members=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["action"].choices = [("", "Any action")] + [(a, a) for a in Action.all()]
        self.fields["actor"].choices = [("", "Anyone")] + [
            (m.user_id, m.user.email) for m in members
        ]

    def clean(self):
        cleaned = super().clean()
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and since > until:
            self.add_error("until", "The end date is before the start date.")
        return cleaned

    def filters(self) -> dict:
        """Return the keyword filters for `audit_events_for_workspace` (empty when invalid)."""
        if not self.is_valid():
            return {}
        data = self.cleaned_data
        return {
            "action": data.get("action") or "",
            "actor_id": data.get("actor"),
            "since": data.get("since"),
            "until": data.get("until"),
        }
