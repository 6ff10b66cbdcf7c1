"""Forms for privacy requests: signed-in and public."""

from django import forms

from privacy.requests.deadlines import Jurisdiction
from privacy.requests.models import RequestType

SIGNED_IN_TYPES = [
    (value, label) for value, label in RequestType.choices if value != "child_report"
]


class PrivacyRequestForm(forms.Form):
    request_type = forms.ChoiceField(label="What would you like us to do?", choices=SIGNED_IN_TYPES)
    jurisdiction = forms.ChoiceField(
        label="Where do you live?",
        choices=Jurisdiction.choices,
        help_text="It decides which legal deadlines apply. Outside the EEA, UK and "
        "California, the strictest rule applies.",
    )
    details = forms.CharField(
        label="Details (optional)",
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="For a correction, say what is wrong and what it should be.",
    )


class PublicPrivacyRequestForm(PrivacyRequestForm):
    request_type = forms.ChoiceField(
        label="What would you like us to do?", choices=RequestType.choices
    )
    name = forms.CharField(label="Your name", max_length=150, required=False)
    email = forms.EmailField(
        label="Your email address",
        max_length=254,
        help_text="We send a one-time link to this address; nothing starts until you open it.",
    )
