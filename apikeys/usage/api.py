"""REST endpoints for usage: ingestion by the gateway, and reading by workspace members.

`POST /api/v1/usage` (gateway token) stores batches of usage events;
`GET /api/v1/workspaces/{id}/usage/` answers usage per day, key or model.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.errors import DomainError
from accounts.permissions import Perm
from accounts.rest_input import UNKNOWN_FIELD, StrictInputSerializer, StrictQuerySerializer
from accounts.selectors import workspace_get_for_user
from apikeys.keys.gateway_auth import GatewayTokenAuthentication
from apikeys.usage import selectors as usage_selectors
from apikeys.usage import services as usage
from apikeys.usage.models import Moderation

# A full batch of 1,000 events is about 300 kB; anything far larger is not a batch.
MAX_BODY_BYTES = 2 * 1024 * 1024
MAX_INT = 2**31 - 1
# Errors listed per refused batch: enough to fix a systematic mistake, bounded output.
MAX_REPORTED_ERRORS = 20
# Anchored: the schema documents these patterns, and JSON Schema patterns match anywhere.
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_KEY_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,24}$")
# A model id as the gateway names it ("large-2", "org/model@2026-01"): visible ASCII.
_MODEL_RE = re.compile(r"^[A-Za-z0-9._:/@+-]{1,64}$")
_MODERATION_VALUES = frozenset(Moderation.values)


class InvalidBatch(DomainError):
    code = "invalid_batch"


# ---------------------------------------------------------------------------- ingestion


@extend_schema_field(
    {"oneOf": [{"type": "string", "format": "ipv4"}, {"type": "string", "format": "ipv6"}]}
)
class IPAddressStringField(serializers.IPAddressField):
    """An IPv4 or IPv6 address, documented as exactly that."""


class UsageEventInputSerializer(StrictInputSerializer):
    """One model request. There is deliberately no field for prompt or output content."""

    request_id = serializers.RegexField(
        _REQUEST_ID_RE.pattern, max_length=64, help_text="Unique per request; replays are ignored."
    )
    key_id = serializers.RegexField(
        _KEY_ID_RE.pattern, max_length=24, help_text="The public id of the API key used."
    )
    occurred_at = serializers.DateTimeField(
        help_text="ISO 8601 with a time zone. An event older than "
        f"{usage.LATE_EVENT_MAX_DAYS} days or more than an hour ahead is not stored: the answer "
        "lists it under rejected_events (too_old, in_future)."
    )
    model = serializers.RegexField(
        _MODEL_RE.pattern,
        max_length=64,
        help_text="The model's id: letters, digits and . _ : / @ + -",
    )
    input_tokens = serializers.IntegerField(min_value=0, max_value=MAX_INT)
    output_tokens = serializers.IntegerField(min_value=0, max_value=MAX_INT)
    status = serializers.IntegerField(min_value=100, max_value=599, help_text="HTTP status.")
    latency_ms = serializers.IntegerField(min_value=0, max_value=MAX_INT)
    moderation = serializers.ChoiceField(
        choices=Moderation.choices, required=False, default=Moderation.NONE
    )
    client_ip = IPAddressStringField(
        required=False,
        allow_null=True,
        help_text="Not stored when the key's workspace has zero data retention on.",
    )


# The one list of event fields: the serializer documents them, `_parse_event` reads them.
_EVENT_FIELDS = frozenset(UsageEventInputSerializer().get_fields())


def _int_field(event: dict, name: str, low: int, high: int, errors: dict) -> int:
    value = event.get(name)
    # bool is an int in Python; JSON true is not a token count.
    if type(value) is not int:
        errors[name] = "Must be an integer." if name in event else "This field is required."
        return 0
    if not low <= value <= high:
        errors[name] = f"Must be between {low} and {high}."
    return value


def _str_field(event: dict, name: str, pattern: re.Pattern, errors: dict) -> str:
    value = event.get(name)
    if not isinstance(value, str) or not value:
        errors[name] = "This field is required." if value is None else "Must be a string."
        return ""
    if not pattern.fullmatch(value):
        errors[name] = f"Must match {pattern.pattern}."
    return value


def _parse_event(event) -> tuple[usage.UsageEvent | None, dict]:
    if not isinstance(event, dict):
        return None, {"": "Must be an object."}
    errors: dict[str, str] = {name: UNKNOWN_FIELD for name in event.keys() - _EVENT_FIELDS}
    request_id = _str_field(event, "request_id", _REQUEST_ID_RE, errors)
    key_id = _str_field(event, "key_id", _KEY_ID_RE, errors)
    model = _str_field(event, "model", _MODEL_RE, errors)
    occurred_at = None
    raw_time = event.get("occurred_at")
    if not isinstance(raw_time, str) or len(raw_time) > 40:
        errors["occurred_at"] = "An ISO 8601 date and time with a time zone is required."
    else:
        try:
            occurred_at = dt.datetime.fromisoformat(raw_time)
        except ValueError:
            errors["occurred_at"] = "Not an ISO 8601 date and time."
        else:
            if occurred_at.tzinfo is None:
                errors["occurred_at"] = "A time zone is required (for example Z)."
    input_tokens = _int_field(event, "input_tokens", 0, MAX_INT, errors)
    output_tokens = _int_field(event, "output_tokens", 0, MAX_INT, errors)
    status_code = _int_field(event, "status", 100, 599, errors)
    latency_ms = _int_field(event, "latency_ms", 0, MAX_INT, errors)
    moderation = event.get("moderation", Moderation.NONE)
    if not isinstance(moderation, str) or moderation not in _MODERATION_VALUES:
        errors["moderation"] = f"Must be one of {', '.join(sorted(_MODERATION_VALUES))}."
    client_ip = event.get("client_ip")
    if client_ip is not None:
        try:
            # ip_address() also takes integers, and JSON false is the integer 0.
            if not isinstance(client_ip, str):
                raise ValueError(client_ip)
            client_ip = str(ipaddress.ip_address(client_ip))
        except ValueError:
            errors["client_ip"] = "Not an IPv4 or IPv6 address."
    if errors:
        return None, errors
    return (
        usage.UsageEvent(
            request_id=request_id,
            key_id=key_id,
            occurred_at=occurred_at,
            model=model,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            status=status_code,
            latency_ms=latency_ms,
            moderation=moderation,
            client_ip=client_ip,
        ),
        {},
    )


class UsageBatchInputSerializer(StrictInputSerializer):
    """A batch of up to 1,000 events; one bad event refuses the whole batch.

    The declared fields document the shape. Validation runs a single pass over the
    events instead of DRF's field-by-field machinery, which would cost more than the
    database insert of the same batch.
    """

    events = serializers.ListField(
        child=UsageEventInputSerializer(), min_length=1, max_length=usage.MAX_BATCH_EVENTS
    )

    def to_internal_value(self, data):
        if not isinstance(data, dict) or not isinstance(data.get("events"), list):
            raise InvalidBatch(
                "The body must be an object with a list of events.",
                fields={"events": ["A list of events is required."]},
            )
        if data.keys() - {"events"}:
            raise InvalidBatch(
                "The body holds only `events`.",
                fields={name: [UNKNOWN_FIELD] for name in sorted(data.keys() - {"events"})},
            )
        raw_events = data["events"]
        if not raw_events:
            raise InvalidBatch(
                "The batch holds no events.", fields={"events": ["At least one event."]}
            )
        if len(raw_events) > usage.MAX_BATCH_EVENTS:
            raise usage.BatchTooLarge(
                f"A batch holds at most {usage.MAX_BATCH_EVENTS} events; "
                f"this one has {len(raw_events)}."
            )
        events, fields, bad = [], {}, []
        for index, raw in enumerate(raw_events):
            event, errors = _parse_event(raw)
            if errors:
                bad.append(index)
                if len(bad) <= MAX_REPORTED_ERRORS:
                    for name, message in errors.items():
                        path = f"events.{index}.{name}" if name else f"events.{index}"
                        fields[path] = [message]
            else:
                events.append(event)
        if bad:
            raise InvalidBatch(
                f"{len(bad)} event(s) are not valid, the first at index {bad[0]}; "
                "no event of this batch was stored.",
                fields=fields,
            )
        return {"events": events}


class RejectedEventOutputSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    request_id = serializers.CharField()
    key_id = serializers.CharField()
    reason = serializers.ChoiceField(
        choices=[usage.REJECT_UNKNOWN_KEY, usage.REJECT_TOO_OLD, usage.REJECT_IN_FUTURE]
    )


class UsageIngestOutputSerializer(serializers.Serializer):
    accepted = serializers.IntegerField(help_text="Events stored now.")
    duplicates = serializers.IntegerField(help_text="Request ids stored before (or repeated).")
    rejected = serializers.IntegerField(help_text="Events not stored; see rejected_events.")
    rejected_events = RejectedEventOutputSerializer(many=True)


class UsageIngestView(APIView):
    """Store a batch of usage events reported by the gateway."""

    authentication_classes = [GatewayTokenAuthentication]
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="usage_ingest",
        request=UsageBatchInputSerializer,
        responses={
            200: UsageIngestOutputSerializer,
            400: OpenApiResponse(description="A malformed body or event; nothing stored."),
            401: OpenApiResponse(description="Missing or wrong gateway token."),
            413: OpenApiResponse(description="More than 1,000 events, or a body over 2 MiB."),
        },
        tags=["usage"],
        summary="Report usage events (gateway only)",
    )
    def post(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > MAX_BODY_BYTES:
            raise usage.BatchTooLarge(f"The body is larger than {MAX_BODY_BYTES} bytes.")
        serializer = UsageBatchInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = usage.usage_records_ingest(events=serializer.validated_data["events"])
        output = UsageIngestOutputSerializer(
            {
                "accepted": result.accepted,
                "duplicates": result.duplicates,
                "rejected": len(result.rejected),
                "rejected_events": result.rejected,
            }
        )
        return Response(output.data, status=status.HTTP_200_OK)


# ---------------------------------------------------------------------------- reading


class UsageQueryInputSerializer(StrictQuerySerializer):
    # `from` is a Python keyword: the field is declared under its query name below.
    to = serializers.DateField(
        required=False,
        help_text="Last UTC day, inclusive; today when left out. "
        f"The range spans at most {usage_selectors.MAX_RANGE_DAYS} days.",
    )
    key_id = serializers.CharField(required=False, max_length=24, help_text="Key public id.")
    model = serializers.CharField(required=False, max_length=64)
    group_by = serializers.ChoiceField(
        choices=list(usage_selectors.GROUP_BY_FIELDS), required=False, default="day"
    )

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = serializers.DateField(
            required=False, help_text="First UTC day, inclusive. 29 days before `to`."
        )
        return fields

    def validate(self, attrs):
        end = attrs.get("to") or usage_selectors.utc_today()
        start = attrs.get("from") or end - dt.timedelta(days=usage_selectors.DEFAULT_RANGE_DAYS - 1)
        if start > end:
            raise serializers.ValidationError({"from": ["Must not be after `to`."]})
        if (end - start).days + 1 > usage_selectors.MAX_RANGE_DAYS:
            raise serializers.ValidationError(
                {"from": [f"The range spans at most {usage_selectors.MAX_RANGE_DAYS} days."]}
            )
        attrs["start"], attrs["end"] = start, end
        return attrs


class UsageRowOutputSerializer(serializers.Serializer):
    day = serializers.DateField(required=False, help_text="With group_by=day.")
    key_id = serializers.CharField(required=False, help_text="With group_by=key.")
    key_name = serializers.CharField(required=False, help_text="With group_by=key.")
    model = serializers.CharField(required=False, help_text="With group_by=model.")
    requests = serializers.IntegerField()
    input_tokens = serializers.IntegerField()
    output_tokens = serializers.IntegerField()
    errors = serializers.IntegerField(help_text="Requests answered with status 400 or above.")
    flagged = serializers.IntegerField(help_text="Requests the moderation flagged.")
    blocked = serializers.IntegerField(help_text="Requests the moderation blocked.")


_READERS = {"day": usage_selectors.usage_by_day, "model": usage_selectors.usage_by_model}


class WorkspaceUsageView(GenericAPIView):
    """Usage of a workspace per day, key or model (UTC days; today is kept current).

    Per day: every day of the range, oldest first. Per key: the workspace's keys by name
    (keys without usage in the range included, keys deleted before it left out). Per
    model: the models with usage, busiest first.
    """

    serializer_class = UsageRowOutputSerializer
    # Management API keys with this scope may read their own workspace's usage.
    key_scopes = {"GET": "usage.read"}

    @extend_schema(
        operation_id="workspace_usage",
        parameters=[
            UsageQueryInputSerializer,
            OpenApiParameter(
                "from",
                OpenApiTypes.DATE,
                description="First UTC day, inclusive; 29 days before `to` when left out. "
                f"Not after `to`; the range spans at most {usage_selectors.MAX_RANGE_DAYS} days.",
            ),
        ],
        responses={
            200: UsageRowOutputSerializer(many=True),
            400: OpenApiResponse(
                description="Invalid filters: an unknown parameter or value, `from` after "
                f"`to`, or a range over {usage_selectors.MAX_RANGE_DAYS} days."
            ),
            404: OpenApiResponse(
                description="No such workspace, no access to it, or no such key_id in it."
            ),
        },
        tags=["usage"],
        summary="Usage per day, key or model",
        description="Per day: every day of the range, oldest first. Per key: the workspace's "
        "keys by name, keys without usage in the range included and keys deleted before it "
        "left out. Per model: the models with usage, busiest first. Figures are kept current "
        "as usage is reported, today's included.",
    )
    def get(self, request, workspace_id):
        workspace = workspace_get_for_user(
            user=request.user, workspace_id=workspace_id, permission=Perm.USAGE_VIEW
        )
        params = UsageQueryInputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        api_key = None
        if data.get("key_id"):
            # A key the workspace never had is missing, like any id that names nothing.
            api_key = usage_selectors.usage_key_get(workspace=workspace, public_id=data["key_id"])
        query = usage_selectors.UsageQuery(
            start=data["start"], end=data["end"], api_key=api_key, model=data.get("model", "")
        )
        if data["group_by"] == "key":
            # Pages of keys by name, each summed on its own: the cost of a page does not
            # grow with the number of keys.
            keys = self.paginate_queryset(
                usage_selectors.usage_keys_for_range(workspace=workspace, query=query)
            )
            rows = usage_selectors.usage_by_key(workspace=workspace, query=query, keys=keys)
            page = [{k: v for k, v in row.items() if k != "key_deleted"} for row in rows]
        else:
            page = self.paginate_queryset(
                _READERS[data["group_by"]](workspace=workspace, query=query)
            )
        return self.get_paginated_response(UsageRowOutputSerializer(page, many=True).data)
