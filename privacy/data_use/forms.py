"""Forms of the consent banner, cookie settings and privacy settings pages."""

from django import forms

CONSENT_CHOICES = [
    ("accept_all", "Accept all"),
    ("reject_all", "Reject all"),
    ("save", "Save my choices"),
]


class ConsentForm(forms.Form):
    """One decision from the banner or the cookie settings page. Nothing is pre-ticked."""

    choice = forms.ChoiceField(choices=CONSENT_CHOICES)
    preferences = forms.BooleanField(
        required=False,
        label="Preferences",
        help_text="Remember display choices between visits.",
    )
    analytics = forms.BooleanField(
        required=False,
        label="Analytics",
        help_text="Count page views in aggregate so we can improve the console.",
    )
    marketing = forms.BooleanField(
        required=False,
        label="Marketing",
        help_text="Measure whether our campaigns reach people.",
    )
    next = forms.CharField(required=False, max_length=2000, widget=forms.HiddenInput)

    def categories(self) -> dict[str, bool]:
        """Return the categories the decision allows."""
        choice = self.cleaned_data["choice"]
        names = ("preferences", "analytics", "marketing")
        if choice == "accept_all":
            return dict.fromkeys(names, True)
        if choice == "reject_all":
            return dict.fromkeys(names, False)
        return {name: bool(self.cleaned_data.get(name)) for name in names}


class PrivacySettingsForm(forms.Form):
    training_opt_out = forms.BooleanField(
        required=False,
        label="Do not use my data for model training",
        help_text="Applies to content sent with your keys and in your personal workspace.",
    )
    do_not_sell_or_share = forms.BooleanField(
        required=False,
        label="Do not sell or share my personal information",
        help_text="We do not sell personal information; this also stops sharing for "
        "advertising (CCPA). A Global Privacy Control signal turns it on.",
    )
    marketing_emails = forms.BooleanField(
        required=False,
        label="Product news and offers by email",
        help_text="Security and service messages are always sent.",
    )


class WorkspacePrivacyForm(forms.Form):
    zero_data_retention = forms.BooleanField(
        required=False,
        label="Zero data retention",
        help_text="Prompts and outputs are not stored after a response is returned.",
    )
    training_opt_out = forms.BooleanField(
        required=False,
        label="Do not use this workspace's data for model training",
    )
    usage_retention_days = forms.IntegerField(
        min_value=30,
        max_value=90,
        label="Keep usage records for (days)",
        help_text="Between 30 and 90 days.",
    )
