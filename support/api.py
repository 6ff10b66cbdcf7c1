"""REST endpoints of the support desk (session sign-in; the requester's own only).

Management keys are refused here: these views declare no `key_scopes`. Someone else's
request answers 404, exactly like one that does not exist.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from accounts.errors import NotFound
from accounts.rest_input import StrictInputSerializer
from support import files
from support.models import Category, SupportRequest
from support.selectors import (
    support_attachment_get_for_user,
    support_request_get_for_user,
    support_thread,
)
from support.services import (
    MESSAGE_MAX,
    SUBJECT_MAX,
    support_request_close,
    support_request_create,
    support_request_reply,
)


class SupportRequestInputSerializer(StrictInputSerializer):
    subject = serializers.CharField(max_length=SUBJECT_MAX)
    category = serializers.ChoiceField(choices=Category.choices)
    message = serializers.CharField(max_length=MESSAGE_MAX)
    workspace_id = serializers.UUIDField(
        required=False, allow_null=True, default=None, help_text="One of your workspaces."
    )
    api_key_id = serializers.CharField(
        required=False,
        allow_null=True,
        default=None,
        max_length=24,
        help_text="The public id of a key in that workspace.",
    )


class ReplyInputSerializer(StrictInputSerializer):
    message = serializers.CharField(max_length=MESSAGE_MAX)


class AttachmentOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    file_name = serializers.CharField()
    content_type = serializers.CharField()
    size = serializers.IntegerField()


class MessageOutputSerializer(serializers.Serializer):
    body = serializers.CharField()
    from_staff = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    attachments = AttachmentOutputSerializer(many=True, source="attachments.all")


class SupportRequestOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    subject = serializers.CharField()
    category = serializers.CharField()
    status = serializers.CharField()
    workspace_id = serializers.UUIDField(allow_null=True)
    api_key_id = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    closed_at = serializers.DateTimeField(allow_null=True)

    def get_api_key_id(self, obj) -> str | None:
        return obj.api_key.public_id if obj.api_key_id else None


class SupportRequestDetailSerializer(SupportRequestOutputSerializer):
    messages = serializers.SerializerMethodField()

    @extend_schema_field(MessageOutputSerializer(many=True))
    def get_messages(self, obj) -> list:
        return MessageOutputSerializer(support_thread(request=obj), many=True).data


def _own(request, support_request_id) -> SupportRequest:
    return support_request_get_for_user(user=request.user, request_id=support_request_id)


def _detail(support_request: SupportRequest) -> dict:
    return SupportRequestDetailSerializer(support_request).data


class SupportRequestListView(GenericAPIView):
    serializer_class = SupportRequestOutputSerializer

    def get_queryset(self):
        return (
            SupportRequest.objects.for_user(self.request.user)
            .select_related("api_key")
            .order_by("-updated_at")
        )

    @extend_schema(responses=SupportRequestOutputSerializer(many=True))
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(SupportRequestOutputSerializer(page, many=True).data)

    @extend_schema(
        request=SupportRequestInputSerializer,
        responses={
            201: SupportRequestDetailSerializer,
            404: OpenApiResponse(
                description="The workspace or key named is missing, or not yours to see."
            ),
        },
    )
    def post(self, request):
        """Open a support request. Files are attached from the console's pages and
        downloaded here from the attachments endpoint."""
        data = SupportRequestInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        created = support_request_create(user=request.user, **data.validated_data)
        return Response(_detail(created), status=status.HTTP_201_CREATED)


class SupportRequestDetailView(GenericAPIView):
    serializer_class = SupportRequestDetailSerializer

    @extend_schema(responses=SupportRequestDetailSerializer)
    def get(self, request, support_request_id):
        return Response(_detail(_own(request, support_request_id)))


class SupportRequestReplyView(GenericAPIView):
    serializer_class = SupportRequestDetailSerializer

    @extend_schema(request=ReplyInputSerializer, responses=SupportRequestDetailSerializer)
    def post(self, request, support_request_id):
        """Reply to your request; a closed request opens again."""
        support_request = _own(request, support_request_id)
        data = ReplyInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        replied = support_request_reply(
            request=support_request, user=request.user, **data.validated_data
        )
        return Response(_detail(replied))


class SupportRequestCloseView(GenericAPIView):
    serializer_class = SupportRequestDetailSerializer

    @extend_schema(
        request=None,
        responses={
            200: SupportRequestDetailSerializer,
            409: OpenApiResponse(description="The request is already closed."),
        },
    )
    def post(self, request, support_request_id):
        closed = support_request_close(request=_own(request, support_request_id), user=request.user)
        return Response(_detail(closed))


class SupportAttachmentView(GenericAPIView):
    @extend_schema(
        responses={
            (200, "application/octet-stream"): OpenApiResponse(
                response=OpenApiTypes.BINARY,
                description="The file as it was uploaded, always as a download; its name "
                "is in Content-Disposition.",
            ),
            404: OpenApiResponse(
                description="The request or file is missing, or not yours to see."
            ),
        },
    )
    def get(self, request, support_request_id, attachment_id):
        """Download a file of your request's thread (yours or one staff sent you)."""
        attachment = support_attachment_get_for_user(
            user=request.user, request_id=support_request_id, attachment_id=attachment_id
        )
        try:
            data = files.file_read(attachment_id=attachment.pk)
        except FileNotFoundError as exc:
            raise NotFound() from exc
        response = files.download_response(attachment=attachment, data=data)
        # Automation saves it by name; no client should render it, whatever its type.
        response["Content-Type"] = "application/octet-stream"
        return response
