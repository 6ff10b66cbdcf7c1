"""Serializer pieces shared by the privacy app's REST endpoints."""

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
