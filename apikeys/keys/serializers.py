"""Explicit input and output serializers for the key endpoints.

No output serializer carries a secret or a hash; the one exception is the `key` field
of the create and rotate responses, the only time the full key is ever shown.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.api.serializers import BudgetAlertThresholdsField
from accounts.rest_input import StrictInputSerializer, StrictQuerySerializer
from accounts.validators import validate_name
from apikeys.keys import selectors
from apikeys.keys.scopes import ALL_SCOPES
from apikeys.keys.services import GRACE_PERIODS, LIMIT_MAX, MAX_ALLOWED_IPS
from apikeys.keys.tokens import Environment

BUDGET_MAX = 10**15


_IPV4_OCTET = r"(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "format": "ipv4"},
            {"type": "string", "format": "ipv6"},
            {
                "type": "string",
                "pattern": rf"^({_IPV4_OCTET}\.){{3}}{_IPV4_OCTET}/(3[0-2]|[12]?\d)$",
                "description": "An IPv4 range in CIDR notation; IPv6 ranges work alike.",
            },
        ]
    }
)
class IPRangeField(serializers.CharField):
    """An address or a CIDR range, IPv4 or IPv6 (checked by the service)."""


def _limit(maximum: int = LIMIT_MAX, help_text: str = "") -> serializers.IntegerField:
    return serializers.IntegerField(
        min_value=1, max_value=maximum, required=False, allow_null=True, help_text=help_text
    )


class _KeySettingsInput(StrictInputSerializer):
    name = serializers.CharField(max_length=100, validators=[validate_name])
    scopes = serializers.ListField(
        child=serializers.ChoiceField(choices=list(ALL_SCOPES)),
        allow_empty=False,
        min_length=1,
        max_length=len(ALL_SCOPES),
        help_text="At least one scope.",
    )
    allowed_ips = serializers.ListField(
        child=IPRangeField(max_length=64),
        required=False,
        max_length=MAX_ALLOWED_IPS,
        help_text="CIDR ranges, IPv4 or IPv6. Empty: any address.",
    )
    max_tokens_per_request = _limit()
    requests_per_minute = _limit()
    tokens_per_minute = _limit()
    monthly_token_budget = _limit(BUDGET_MAX, "Tokens per calendar month (UTC).")


class ApiKeyCreateInputSerializer(_KeySettingsInput):
    environment = serializers.ChoiceField(choices=Environment.choices)
    expires_at = serializers.DateTimeField(
        required=False,
        allow_null=True,
        help_text="Optional; in the future. Beyond the workspace's maximum key lifetime "
        "answers 409.",
    )


class ApiKeyUpdateInputSerializer(_KeySettingsInput):
    """PATCH: every field optional; send only what changes, at least one field."""

    requires_a_field = True
    budget_alert_thresholds = BudgetAlertThresholdsField()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.required = False


class ApiKeyRotateInputSerializer(StrictInputSerializer):
    grace = serializers.ChoiceField(
        choices=list(GRACE_PERIODS),
        help_text="How long the old secret keeps working: none, 1h, 24h or 7d.",
    )


class ApiKeyLeakReportInputSerializer(StrictInputSerializer):
    key = serializers.CharField(max_length=200, trim_whitespace=True)
    source = serializers.CharField(max_length=100, required=False, allow_blank=True)


class ApiKeyListQuerySerializer(StrictQuerySerializer):
    environment = serializers.ChoiceField(choices=Environment.choices, required=False)
    status = serializers.ChoiceField(choices=list(selectors.STATUSES), required=False)
    sort = serializers.ChoiceField(choices=list(selectors.SORTS), required=False)


class ApiKeyLeakReportOutputSerializer(serializers.Serializer):
    status = serializers.CharField()


class ApiKeyCreatorSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()


class ApiKeyOutputSerializer(serializers.Serializer):
    id = serializers.CharField(source="public_id", help_text="The key's public id.")
    name = serializers.CharField()
    environment = serializers.CharField()
    display = serializers.CharField(help_text="Prefix, public id and last four characters.")
    status = serializers.CharField()
    scopes = serializers.ListField(child=serializers.CharField())
    created_by = ApiKeyCreatorSerializer(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)
    revoked_reason = serializers.CharField()
    last_used_at = serializers.DateTimeField(allow_null=True)
    last_used_ip = serializers.CharField(allow_null=True)
    unused = serializers.BooleanField(source="is_unused", help_text="Unused for 90 days.")
    rotated_at = serializers.DateTimeField(allow_null=True)
    previous_secret_expires_at = serializers.DateTimeField(allow_null=True)
    previous_secret_last_used_at = serializers.DateTimeField(allow_null=True)
    allowed_ips = serializers.ListField(child=serializers.CharField())
    max_tokens_per_request = serializers.IntegerField(allow_null=True)
    requests_per_minute = serializers.IntegerField(allow_null=True)
    tokens_per_minute = serializers.IntegerField(allow_null=True)
    monthly_token_budget = serializers.IntegerField(allow_null=True)
    budget_alert_thresholds = serializers.ListField(child=serializers.IntegerField())


class ApiKeyWithSecretOutputSerializer(ApiKeyOutputSerializer):
    key = serializers.CharField(help_text="The full key. Shown only in this response.")
