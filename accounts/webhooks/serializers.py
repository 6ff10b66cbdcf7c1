"""Input and output serializers of the webhooks REST API. Secrets appear only in the
answers that create them (create, rotate-secret)."""

from __future__ import annotations

from django.core.validators import RegexValidator
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.rest_input import StrictInputSerializer
from accounts.validators import validate_name
from accounts.webhooks.events import EVENT_TYPES
from accounts.webhooks.models import DESCRIPTION_MAX_LENGTH, URL_MAX_LENGTH

_PORT = r"([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_PATH_CHARS = r"[A-Za-z0-9._~!$&'()*+,;=:@%/-]"
# https://, a host name (or IPv4 address) of letters, digits and hyphens, an optional
# port, path and query; no credentials, no fragment, no spaces. Exactly what the server
# checks for the URL's shape; where the host resolves is checked besides (see below).
WEBHOOK_URL_PATTERN = (
    rf"^https://{_LABEL}(\.{_LABEL})*(:{_PORT})?(/{_PATH_CHARS}*)?(\?{_PATH_CHARS}*)?$"
)
URL_HELP = (
    "An https:// URL (no user name, password or fragment). If the host resolves to a "
    "loopback, private, link-local, carrier-grade NAT, multicast, reserved or metadata "
    "address (numeric forms such as 2130706433 included), the request answers 400 with "
    "the code `webhook_url_refused`; every delivery checks it again."
)


def _not_only_spaces(value: str) -> None:
    if value and not value.strip():
        raise serializers.ValidationError("Leave it empty, or write something besides spaces.")


@extend_schema_field(
    {
        "type": "string",
        "pattern": WEBHOOK_URL_PATTERN,
        "maxLength": URL_MAX_LENGTH,
        "description": URL_HELP,
    }
)
class WebhookUrlField(serializers.CharField):
    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", URL_MAX_LENGTH)
        super().__init__(**kwargs)
        self.validators.append(
            RegexValidator(WEBHOOK_URL_PATTERN, message="Enter an https:// URL.")
        )


def _event_types(**kwargs) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.ChoiceField(choices=list(EVENT_TYPES)),
        allow_empty=False,
        min_length=1,
        max_length=len(EVENT_TYPES),
        help_text="The event types to receive; at least one.",
        **kwargs,
    )


def _description(**kwargs) -> serializers.CharField:
    return serializers.CharField(
        max_length=DESCRIPTION_MAX_LENGTH,
        allow_blank=True,
        trim_whitespace=False,
        validators=[validate_name, _not_only_spaces],
        **kwargs,
    )


class WebhookEndpointCreateInputSerializer(StrictInputSerializer):
    url = WebhookUrlField()
    event_types = _event_types()
    description = _description(required=False, default="")


class WebhookEndpointUpdateInputSerializer(StrictInputSerializer):
    """PATCH: send only what changes, at least one field."""

    requires_a_field = True

    url = WebhookUrlField(required=False)
    event_types = _event_types(required=False)
    description = _description(required=False)
    enabled = serializers.BooleanField(
        required=False, help_text="false stops deliveries; true resumes them."
    )


class WebhookRotateSecretInputSerializer(StrictInputSerializer):
    overlap_hours = serializers.IntegerField(
        min_value=0,
        max_value=168,
        help_text="How long the old secret keeps signing beside the new one: 0 to 168 "
        "hours (the dashboard uses 24).",
    )


class WebhookEndpointOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    url = serializers.CharField()
    description = serializers.CharField()
    event_types = serializers.ListField(child=serializers.CharField())
    enabled = serializers.BooleanField()
    disabled_at = serializers.DateTimeField(allow_null=True)
    disabled_reason = serializers.CharField()
    failing_since = serializers.DateTimeField(allow_null=True)
    previous_secret_expires_at = serializers.DateTimeField(
        allow_null=True, help_text="While in the future, the previous secret signs too."
    )
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class WebhookEndpointWithSecretOutputSerializer(WebhookEndpointOutputSerializer):
    secret = serializers.CharField(
        help_text="The signing secret (whsec_...). Shown only in this response."
    )


class WebhookMessageOutputSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="The webhook-id header of every delivery of it.")
    event_type = serializers.CharField()
    status = serializers.ChoiceField(choices=["pending", "sending", "delivered", "failed"])
    attempts = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    next_attempt_at = serializers.DateTimeField(allow_null=True)
    delivered_at = serializers.DateTimeField(allow_null=True)
    last_error = serializers.CharField()
    payload = serializers.JSONField(
        help_text="The body sent: type, timestamp, schema_version and data."
    )

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if instance.status != "pending":
            data["next_attempt_at"] = None
        return data


class WebhookAttemptOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    message_id = serializers.CharField()
    number = serializers.IntegerField()
    attempted_at = serializers.DateTimeField()
    status_code = serializers.IntegerField(allow_null=True)
    latency_ms = serializers.IntegerField()
    succeeded = serializers.BooleanField()
    response_excerpt = serializers.CharField()
    error = serializers.CharField()
