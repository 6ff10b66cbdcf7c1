"""REST endpoints: the signed-in user's privacy settings; consent for anyone."""

import uuid

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, status
from rest_framework.authentication import CSRFCheck
from rest_framework.permissions import SAFE_METHODS, AllowAny, BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from console.throttling import AnonRateThrottle
from privacy.api.serializers import (
    ConsentInputSerializer,
    ConsentStateOutputSerializer,
    PrivacySettingsInputSerializer,
    PrivacySettingsOutputSerializer,
)
from privacy.consent import Choice, gpc_requested, parse_visitor_id, set_consent_cookies
from privacy.models.policy import PolicyKind
from privacy.selectors import consent_records_visible, policy_current, privacy_settings_for_user
from privacy.services import consent_record, privacy_settings_update

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


def _consent_state(request, visitor_id: uuid.UUID | None) -> dict:
    version = policy_current(kind=PolicyKind.COOKIE)
    history = list(
        consent_records_visible(user=request.user, visitor_id=visitor_id)[:HISTORY_LIMIT]
    )
    latest = history[0] if history else None
    in_force = latest is not None and latest.cookie_policy_version_id == (
        version.pk if version else None
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
                str,
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
        )
        return set_consent_cookies(response, request, visitor_id=visitor_id, choice=choice)
