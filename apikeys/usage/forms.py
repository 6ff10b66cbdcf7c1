"""The filter form of the usage page and its CSV export."""

from __future__ import annotations

import datetime as dt

from django import forms

from accounts.errors import NotFound
from accounts.forms.widgets import QuickSelect
from apikeys.usage import selectors as usage_selectors


class UsageFilterForm(forms.Form):
    """Date range (UTC days, inclusive), key and model. Query names match the REST API."""

    # A key id rather than a list of every key: the page costs the same with 5 or 5,000
    # keys. The rows of the per-key table link to the page filtered on their key.
    key = forms.CharField(
        label="Key id",
        required=False,
        max_length=24,
        help_text="All keys when empty",
        widget=forms.TextInput(attrs={"spellcheck": "false", "autocomplete": "off"}),
    )
    model = forms.ChoiceField(label="Model", required=False, widget=QuickSelect)

    def __init__(self, data=None, *, workspace, **kwargs):
        super().__init__(data, **kwargs)
        start, end = usage_selectors.usage_default_range()
        # `from` is a Python keyword, so the date fields are added under their query names.
        self.fields = {
            "from": forms.DateField(
                label="From",
                required=False,
                widget=forms.DateInput(attrs={"type": "date"}),
                help_text=f"Default {start.isoformat()}",
            ),
            "to": forms.DateField(
                label="To",
                required=False,
                widget=forms.DateInput(attrs={"type": "date"}),
                help_text=f"Default {end.isoformat()} (today, UTC)",
            ),
            **self.fields,
        }
        self.workspace = workspace
        self.api_key = None
        oldest = end - dt.timedelta(days=usage_selectors.MAX_RANGE_DAYS - 1)
        models = usage_selectors.usage_models_for_filter(workspace=workspace, since=oldest)
        self.fields["model"].choices = [("", "All models")] + [(m, m) for m in models]

    def clean_key(self):
        public_id = self.cleaned_data.get("key", "").strip()
        if public_id:
            try:
                self.api_key = usage_selectors.usage_key_get(
                    workspace=self.workspace, public_id=public_id
                )
            except NotFound:
                raise forms.ValidationError("No key with this id in this workspace.") from None
        return public_id

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        end = cleaned.get("to") or usage_selectors.utc_today()
        start = cleaned.get("from") or end - dt.timedelta(
            days=usage_selectors.DEFAULT_RANGE_DAYS - 1
        )
        if start > end:
            self.add_error("to", "The end date is before the start date.")
        elif (end - start).days + 1 > usage_selectors.MAX_RANGE_DAYS:
            self.add_error(
                "from", f"The range spans at most {usage_selectors.MAX_RANGE_DAYS} days."
            )
        cleaned["start"], cleaned["end"] = start, end
        return cleaned

    def query(self) -> usage_selectors.UsageQuery | None:
        """Return the usage query, or None while the form is invalid."""
        if not self.is_valid():
            return None
        data = self.cleaned_data
        return usage_selectors.UsageQuery(
            start=data["start"],
            end=data["end"],
            api_key=self.api_key,
            model=data.get("model") or "",
        )
