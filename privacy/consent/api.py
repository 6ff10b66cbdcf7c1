"""REST endpoint of cookie consent, for anyone (signed in or not)."""

import uuid

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.authentication import CSRFCheck
from rest_framework.permissions import SAFE_METHODS, AllowAny, BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.rest_input import StrictInputSerializer
from accounts.throttling import AnonRateThrottle
from privacy.consent import cookies as consent_cookies
from privacy.consent.cookies import Choice, gpc_requested, parse_visitor_id, set_consent_cookies
from privacy.consent.selectors import consent_records_visible
from privacy.consent.services import consent_record
from privacy.policies.models import PolicyKind
from privacy.policies.selectors import policy_current


class ConsentInputSerializer(StrictInputSerializer):
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
    visitor_id = serializers.UUIDField(
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


HISTORY_LIMIT = 50


class CsrfForEveryone(BasePermission):
    """Check CSRF on writes for anonymous visitors too.

    DRF checks it only for session-authenticated users; a forged cross-site "accept all"
    must not be recordable as a visitor's consent either.
    """

    def has_permission(self, request, view):
        if request.method in SAFE_METHODS:
            return True
        check = CSRFCheck(lambda _request: None)
        check.process_request(request._request)
        reason = check.process_view(request._request, None, (), {})
        if reason:
            raise exceptions.PermissionDenied(f"CSRF Failed: {reason}")
        return True


class ConsentThrottle(AnonRateThrottle):
    scope = "privacy_consent"
    rate = "120/min"


def _consent_state(request, visitor_id: uuid.UUID | None) -> dict:
    version = policy_current(kind=PolicyKind.COOKIE)
    history = list(
        consent_records_visible(user=request.user, visitor_id=visitor_id)[:HISTORY_LIMIT]
    )
    latest = history[0] if history else None
    in_force = (
        latest is not None
        and latest.cookie_policy_version_id == (version.pk if version else None)
        and latest.banner_version == consent_cookies.BANNER_TEXT_VERSION
    )
    return {
        "visitor_id": visitor_id,
        "needs_consent": not in_force,
        "categories": latest.categories if in_force else ["necessary"],
        "preferences": bool(in_force and latest.preferences),
        "analytics": bool(in_force and latest.analytics),
        "marketing": bool(in_force and latest.marketing),
        "gpc": gpc_requested(request),
        "cookie_policy_version": version.version if version else "",
        "cookie_policy_version_id": version.pk if version else None,
        "history": history,
    }


class ConsentView(APIView):
    permission_classes = [AllowAny, CsrfForEveryone]
    throttle_classes = [ConsentThrottle]

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "visitor_id",
                OpenApiTypes.UUID,
                description="Visitor id, when the visitor cookie cannot be sent.",
            )
        ],
        responses=ConsentStateOutputSerializer,
    )
    def get(self, request):
        """Read the current consent and its history, for this browser or account."""
        visitor_id = getattr(request, "consent_visitor_id", None)
        raw = request.query_params.get("visitor_id")
        if raw is not None:
            visitor_id = parse_visitor_id(raw)
            if visitor_id is None:
                raise exceptions.ValidationError({"visitor_id": ["Must be a valid UUID."]})
        return Response(ConsentStateOutputSerializer(_consent_state(request, visitor_id)).data)

    @extend_schema(request=ConsentInputSerializer, responses={201: ConsentStateOutputSerializer})
    def post(self, request):
        """Record a consent decision and store it in this browser's consent cookie."""
        serializer = ConsentInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        visitor_id = (
            getattr(request, "consent_visitor_id", None) or data.get("visitor_id") or uuid.uuid4()
        )
        record = consent_record(
            visitor_id=visitor_id,
            user=request.user,
            preferences=data["preferences"],
            analytics=data["analytics"],
            marketing=data["marketing"],
            method=data["method"],
            gpc=gpc_requested(request),
        )
        response = Response(
            ConsentStateOutputSerializer(_consent_state(request, visitor_id)).data,
            status=status.HTTP_201_CREATED,
        )
        choice = Choice(
            version_id=record.cookie_policy_version_id,
            preferences=record.preferences,
            analytics=record.analytics,
            marketing=record.marketing,
            banner_version=record.banner_version,
        )
        return set_consent_cookies(response, request, visitor_id=visitor_id, choice=choice)
