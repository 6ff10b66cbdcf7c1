"""REST endpoints for privacy requests (session auth; the requester's own only)."""

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from accounts.rest_input import StrictInputSerializer
from privacy.processors.selectors import processor_actions_for_request
from privacy.requests.deadlines import Jurisdiction
from privacy.requests.models import PrivacyRequest, RequestType
from privacy.requests.selectors import privacy_request_get_for_user
from privacy.requests.services import privacy_request_cancel, privacy_request_submit


class PrivacyRequestInputSerializer(StrictInputSerializer):
    # A report about a child's account comes through the public form, never from an account.
    request_type = serializers.ChoiceField(
        choices=[c for c in RequestType.choices if c[0] != RequestType.CHILD_REPORT]
    )
    jurisdiction = serializers.ChoiceField(choices=Jurisdiction.choices)
    details = serializers.CharField(required=False, allow_blank=True, max_length=5000, default="")


class ProcessorStateOutputSerializer(serializers.Serializer):
    processor = serializers.CharField(source="processor.name")
    purpose = serializers.CharField(source="processor.purpose")
    state = serializers.ChoiceField(
        choices=["pending", "sent", "received", "completed", "refused", "overridden", "cancelled"]
    )
    sent_at = serializers.DateTimeField(allow_null=True)
    closed_at = serializers.DateTimeField(allow_null=True)


class PrivacyRequestOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    request_type = serializers.CharField()
    jurisdiction = serializers.CharField()
    status = serializers.CharField()
    received_at = serializers.DateTimeField(allow_null=True)
    acknowledge_by = serializers.DateField(allow_null=True)
    due_date = serializers.DateField(allow_null=True)
    extended_due_date = serializers.DateField(allow_null=True)
    extension_reason = serializers.CharField()
    closed_at = serializers.DateTimeField(allow_null=True)
    resolution = serializers.CharField()
    is_overdue = serializers.BooleanField()
    export_id = serializers.UUIDField(allow_null=True)
    processors = serializers.SerializerMethodField(
        help_text="Each processor that carries the request out too, and its state; the "
        "request completes when each has completed or staff settled it."
    )

    @extend_schema_field(ProcessorStateOutputSerializer(many=True))
    def get_processors(self, obj) -> list:
        actions = processor_actions_for_request(privacy_request_id=obj.pk)
        return ProcessorStateOutputSerializer(actions, many=True).data


def _own(request, request_id) -> PrivacyRequest:
    return privacy_request_get_for_user(user=request.user, request_id=request_id)


class PrivacyRequestListView(GenericAPIView):
    serializer_class = PrivacyRequestOutputSerializer

    def get_queryset(self):
        return PrivacyRequest.objects.for_user(self.request.user).order_by("-submitted_at")

    @extend_schema(responses=PrivacyRequestOutputSerializer(many=True))
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(PrivacyRequestOutputSerializer(page, many=True).data)

    @extend_schema(
        request=PrivacyRequestInputSerializer,
        responses={
            201: PrivacyRequestOutputSerializer,
            409: OpenApiResponse(description="An open request of this type exists."),
        },
    )
    def post(self, request):
        """Submit a request. Session sign-in counts as identity verification."""
        data = PrivacyRequestInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        created = privacy_request_submit(user=request.user, **data.validated_data)
        created.refresh_from_db()
        return Response(
            PrivacyRequestOutputSerializer(created).data, status=status.HTTP_201_CREATED
        )


class PrivacyRequestDetailView(GenericAPIView):
    serializer_class = PrivacyRequestOutputSerializer

    @extend_schema(responses=PrivacyRequestOutputSerializer)
    def get(self, request, request_id):
        return Response(PrivacyRequestOutputSerializer(_own(request, request_id)).data)


class PrivacyRequestCancelView(GenericAPIView):
    serializer_class = PrivacyRequestOutputSerializer

    @extend_schema(
        request=None,
        responses={
            200: PrivacyRequestOutputSerializer,
            409: OpenApiResponse(description="The request can no longer be cancelled."),
        },
    )
    def post(self, request, request_id):
        cancelled = privacy_request_cancel(request=_own(request, request_id), user=request.user)
        return Response(PrivacyRequestOutputSerializer(cancelled).data)
