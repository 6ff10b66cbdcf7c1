"""The callback API processors answer through: received, completed, refused.

Each call names one of the processor's own actions by its public id; another
processor's action, or none, answers 404. Repeating an answer changes nothing; an
answer that contradicts an earlier one answers 409.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.rest_input import StrictInputSerializer
from accounts.validators import validate_name
from privacy.processors.auth import ProcessorTokenAuthentication
from privacy.processors.services import (
    REASON_MAX_LENGTH,
    RESULT_MAX_LENGTH,
    processor_action_complete,
    processor_action_receive,
    processor_action_refuse,
)

ACTION_ID_PATTERN = "^pra_[0-9a-f]{32}$"


class ProcessorCompletedInputSerializer(StrictInputSerializer):
    """What the processor did (e.g. "deleted 1,204 log lines"); no personal data."""

    result = serializers.CharField(
        max_length=RESULT_MAX_LENGTH, trim_whitespace=False, validators=[validate_name]
    )


class ProcessorRefusedInputSerializer(StrictInputSerializer):
    """Why the processor will not carry the request out."""

    reason = serializers.CharField(
        max_length=REASON_MAX_LENGTH, trim_whitespace=False, validators=[validate_name]
    )


class ProcessorActionOutputSerializer(serializers.Serializer):
    id = serializers.CharField(source="public_id")
    request_kind = serializers.CharField(source="kind")
    state = serializers.CharField()
    created_at = serializers.DateTimeField()
    sent_at = serializers.DateTimeField(allow_null=True)
    received_at = serializers.DateTimeField(allow_null=True)
    closed_at = serializers.DateTimeField(allow_null=True)
    result = serializers.CharField()
    reason = serializers.CharField()


ACTION_ID = OpenApiParameter(
    "action_id",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    description="The action's id, as sent in the message (`action_id`).",
    pattern=ACTION_ID_PATTERN,
)
COMMON_RESPONSES = {
    200: ProcessorActionOutputSerializer,
    401: OpenApiResponse(description="Missing or wrong processor token."),
    404: OpenApiResponse(description="No such action of this processor."),
    409: OpenApiResponse(description="The action is already settled another way."),
}


class _ProcessorView(APIView):
    authentication_classes = [ProcessorTokenAuthentication]
    permission_classes = [IsAuthenticated]
    throttle_classes = []

    def answer(self, action):
        return Response(ProcessorActionOutputSerializer(action).data)


class ProcessorActionReceivedView(_ProcessorView):
    @extend_schema(
        operation_id="processor_action_received",
        parameters=[ACTION_ID],
        request=None,
        responses=COMMON_RESPONSES,
        tags=["processors"],
    )
    def post(self, request, action_id: str):
        """Say that the processor has the request and is working on it."""
        return self.answer(processor_action_receive(processor=request.auth, public_id=action_id))


class ProcessorActionCompletedView(_ProcessorView):
    @extend_schema(
        operation_id="processor_action_completed",
        parameters=[ACTION_ID],
        request=ProcessorCompletedInputSerializer,
        responses=COMMON_RESPONSES,
        tags=["processors"],
    )
    def post(self, request, action_id: str):
        """Say that the processor carried the request out, with a short result."""
        data = ProcessorCompletedInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return self.answer(
            processor_action_complete(
                processor=request.auth, public_id=action_id, result=data.validated_data["result"]
            )
        )


class ProcessorActionRefusedView(_ProcessorView):
    @extend_schema(
        operation_id="processor_action_refused",
        parameters=[ACTION_ID],
        request=ProcessorRefusedInputSerializer,
        responses=COMMON_RESPONSES,
        tags=["processors"],
    )
    def post(self, request, action_id: str):
        """Say that the processor will not carry the request out, and why."""
        data = ProcessorRefusedInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return self.answer(
            processor_action_refuse(
                processor=request.auth, public_id=action_id, reason=data.validated_data["reason"]
            )
        )
