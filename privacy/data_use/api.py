"""REST endpoint of the signed-in person's data-use settings."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.rest_input import StrictInputSerializer
from privacy.data_use.selectors import privacy_settings_for_user
from privacy.data_use.services import privacy_settings_update


class PrivacySettingsOutputSerializer(serializers.Serializer):
    training_opt_out = serializers.BooleanField()
    do_not_sell_or_share = serializers.BooleanField()
    marketing_emails = serializers.BooleanField(source="user.marketing_emails")
    processing_restricted = serializers.BooleanField()
    updated_at = serializers.DateTimeField(allow_null=True)


class PrivacySettingsInputSerializer(StrictInputSerializer):
    """The settings to change; at least one."""

    requires_a_field = True
    training_opt_out = serializers.BooleanField(required=False)
    do_not_sell_or_share = serializers.BooleanField(required=False)
    marketing_emails = serializers.BooleanField(required=False)


class PrivacySettingsView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=PrivacySettingsOutputSerializer)
    def get(self, request):
        """Read your privacy settings."""
        row = privacy_settings_for_user(user=request.user)
        return Response(PrivacySettingsOutputSerializer(row).data)

    @extend_schema(
        request=PrivacySettingsInputSerializer, responses=PrivacySettingsOutputSerializer
    )
    def patch(self, request):
        """Change your privacy settings; fields left out stay as they are."""
        serializer = PrivacySettingsInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        row = privacy_settings_update(user=request.user, source="api", **serializer.validated_data)
        row.user = request.user
        return Response(PrivacySettingsOutputSerializer(row).data)
