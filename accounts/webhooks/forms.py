"""Dashboard forms for webhook endpoints: the input's shape; the services check the rest."""

from django import forms

from accounts.validators import validate_name
from accounts.webhooks.events import EVENT_TYPES
from accounts.webhooks.models import DESCRIPTION_MAX_LENGTH, URL_MAX_LENGTH

EVENT_CHOICES = [(event_type, event_type) for event_type in EVENT_TYPES]


class WebhookEndpointForm(forms.Form):
    url = forms.CharField(
        label="Endpoint URL",
        max_length=URL_MAX_LENGTH,
        help_text="An https:// URL on a public address. Every delivery checks it again.",
        widget=forms.URLInput(attrs={"placeholder": "https://example.com/webhooks"}),
    )
    description = forms.CharField(
        label="Description",
        max_length=DESCRIPTION_MAX_LENGTH,
        required=False,
        validators=[validate_name],
    )
    event_types = forms.MultipleChoiceField(
        label="Events",
        choices=EVENT_CHOICES,
        widget=forms.CheckboxSelectMultiple,
        help_text="Choose at least one.",
    )


class WebhookEndpointEditForm(WebhookEndpointForm):
    enabled = forms.BooleanField(
        label="Enabled", required=False, help_text="Clear it to stop deliveries."
    )
