"""Forms of the data-use settings pages."""

from django import forms


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
