"""Forms of the key pages. They check the shape of the input; the services the rules."""

from __future__ import annotations

from datetime import datetime, time

from django import forms
from django.utils import timezone

from accounts.forms.workspaces import BudgetThresholdsField
from accounts.validators import validate_name
from apikeys.keys.scopes import DEFAULT_SCOPES, SCOPE_CHOICES
from apikeys.keys.selectors import STATUSES
from apikeys.keys.services import GRACE_PERIODS, LIMIT_MAX
from apikeys.keys.tokens import Environment

GRACE_CHOICES = [
    ("none", "None: the old secret stops working now"),
    ("1h", "1 hour"),
    ("24h", "24 hours"),
    ("7d", "7 days"),
]
assert [value for value, _ in GRACE_CHOICES] == list(GRACE_PERIODS)


def _limit_field(label: str, help_text: str, maximum: int = LIMIT_MAX) -> forms.IntegerField:
    return forms.IntegerField(
        label=label, required=False, min_value=1, max_value=maximum, help_text=help_text
    )


class ApiKeySettingsForm(forms.Form):
    name = forms.CharField(max_length=100, validators=[validate_name])
    scopes = forms.MultipleChoiceField(
        choices=SCOPE_CHOICES,
        widget=forms.CheckboxSelectMultiple,
        initial=DEFAULT_SCOPES,
        help_text="Model scopes for the gateway; management scopes for REST automation.",
    )
    allowed_ips = forms.CharField(
        label="Allowed IP ranges",
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One CIDR range per line, IPv4 or IPv6 (e.g. 203.0.113.0/24). Empty: any.",
    )
    max_tokens_per_request = _limit_field("Max tokens per request", "Empty: no limit.")
    requests_per_minute = _limit_field("Requests per minute", "Empty: no limit.")
    tokens_per_minute = _limit_field("Tokens per minute", "Empty: no limit.")
    monthly_token_budget = _limit_field(
        "Monthly token budget", "Tokens per calendar month (UTC). Empty: none.", 10**15
    )

    def clean_allowed_ips(self) -> list[str]:
        text = self.cleaned_data.get("allowed_ips") or ""
        return [line.strip() for line in text.replace(",", "\n").splitlines() if line.strip()]


class ApiKeyEditForm(ApiKeySettingsForm):
    budget_alert_thresholds = BudgetThresholdsField(
        label="Budget alert thresholds (%)",
        help_text="Owners and admins get one email per month at each of these percentages "
        "of the key's budget, for example 50, 80, 100. Empty: no alerts.",
    )


class ApiKeyCreateForm(ApiKeySettingsForm):
    environment = forms.ChoiceField(
        choices=Environment.choices,
        initial=Environment.DEVELOPMENT,
        help_text="Production keys ask you to confirm your password.",
    )
    expires_on = forms.DateField(
        label="Expires on",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Optional. The key stops working at the start of this day (UTC).",
    )
    field_order = ["name", "environment", "scopes", "expires_on"]

    def __init__(self, *args, max_lifetime_days: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if max_lifetime_days:
            self.fields["expires_on"].help_text = (
                f"This workspace allows keys of at most {max_lifetime_days} days; "
                "empty means the longest allowed."
            )

    def expires_at(self) -> datetime | None:
        day = self.cleaned_data.get("expires_on")
        if day is None:
            return None
        return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())


class ApiKeyRotateForm(forms.Form):
    grace = forms.ChoiceField(
        label="Grace period",
        choices=GRACE_CHOICES,
        initial="24h",
        widget=forms.RadioSelect,
        help_text="How long the old secret keeps working while you switch over.",
    )


class ApiKeyFilterForm(forms.Form):
    environment = forms.ChoiceField(
        required=False, choices=[("", "All environments"), *Environment.choices]
    )
    status = forms.ChoiceField(
        required=False, choices=[("", "Any status")] + [(s, s.title()) for s in STATUSES]
    )
    sort = forms.ChoiceField(
        required=False,
        choices=[
            ("-created", "Newest first"),
            ("created", "Oldest first"),
            ("-last_used", "Recently used first"),
            ("last_used", "Least recently used first"),
            ("name", "Name"),
        ],
    )
