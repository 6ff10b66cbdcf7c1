"""Explicit input and output shapes of the privacy endpoints."""

from rest_framework import serializers


class StrictSerializer(serializers.Serializer):
    """Refuse fields the endpoint does not know instead of silently ignoring them."""

    def validate(self, attrs):
        unknown = set(getattr(self, "initial_data", {}) or {}) - set(self.fields)
        if unknown:
            raise serializers.ValidationError(
                {name: ["Unknown or read-only field."] for name in sorted(unknown)}
            )
        return attrs


class UUIDStringField(serializers.UUIDField):
    """A UUID written as a string; DRF's field also turns numbers (and false) into UUIDs."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid", value=data)
        return super().to_internal_value(data)


class PrivacySettingsOutputSerializer(serializers.Serializer):
    training_opt_out = serializers.BooleanField()
    do_not_sell_or_share = serializers.BooleanField()
    marketing_emails = serializers.BooleanField(source="user.marketing_emails")
    processing_restricted = serializers.BooleanField()
    updated_at = serializers.DateTimeField(allow_null=True)


class PrivacySettingsInputSerializer(StrictSerializer):
    training_opt_out = serializers.BooleanField(required=False)
    do_not_sell_or_share = serializers.BooleanField(required=False)
    marketing_emails = serializers.BooleanField(required=False)


class ConsentInputSerializer(StrictSerializer):
    choice = serializers.ChoiceField(
        choices=["accept_all", "reject_all", "custom"],
        default="custom",
        help_text="accept_all and reject_all override the category flags.",
    )
    preferences = serializers.BooleanField(default=False)
    analytics = serializers.BooleanField(default=False)
    marketing = serializers.BooleanField(default=False)
    method = serializers.ChoiceField(
        choices=["button", "settings", "api"],
        default="api",
        help_text="Where the decision was made. GPC is recorded by the server, never claimed.",
    )
    visitor_id = UUIDStringField(
        required=False, help_text="Only used when the browser has no visitor cookie yet."
    )

    def validate(self, attrs):
        attrs = super().validate(attrs)
        if attrs["choice"] != "custom":
            allowed = attrs["choice"] == "accept_all"
            attrs.update(preferences=allowed, analytics=allowed, marketing=allowed)
        return attrs


class ConsentRecordOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    categories = serializers.ListField(child=serializers.CharField())
    cookie_policy_version = serializers.CharField(
        source="cookie_policy_version.version", allow_null=True, default=None
    )
    banner_version = serializers.CharField()
    method = serializers.CharField()
    gpc = serializers.BooleanField()
    created_at = serializers.DateTimeField()


class ConsentStateOutputSerializer(serializers.Serializer):
    visitor_id = serializers.UUIDField(allow_null=True)
    needs_consent = serializers.BooleanField()
    categories = serializers.ListField(child=serializers.CharField())
    preferences = serializers.BooleanField()
    analytics = serializers.BooleanField()
    marketing = serializers.BooleanField()
    gpc = serializers.BooleanField()
    cookie_policy_version = serializers.CharField(allow_blank=True)
    cookie_policy_version_id = serializers.IntegerField(allow_null=True)
    history = ConsentRecordOutputSerializer(many=True)
