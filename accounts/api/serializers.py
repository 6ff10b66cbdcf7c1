"""Input and output serializers of the accounts REST API, one pair per endpoint.

Input serializers only check shape; the services enforce the rules. Output serializers
list their fields explicitly and never carry tokens or token hashes.
"""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.audit import Action
from accounts.models import BUDGET_ALERT_THRESHOLDS_MAX, WORKSPACE_BUDGET_MAX
from accounts.permissions import Role
from accounts.rest_input import StrictInputSerializer, StrictQuerySerializer
from accounts.validators import email_normalise, validate_name

# ---------------------------------------------------------------------------- errors


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()), required=False
    )


class ErrorSerializer(serializers.Serializer):
    """The one error body of every endpoint."""

    error = ErrorDetailSerializer()


# ---------------------------------------------------------------------------- me


class MeOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    name = serializers.CharField()
    marketing_emails = serializers.BooleanField()


class MeUpdateInputSerializer(StrictInputSerializer):
    name = serializers.CharField(
        max_length=150, allow_blank=True, trim_whitespace=True, validators=[validate_name]
    )


# ---------------------------------------------------------------------------- workspaces


class WorkspaceOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    is_personal = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    role = serializers.ChoiceField(choices=Role.choices, source="my_role")
    usage_retention_days = serializers.IntegerField()
    zero_data_retention = serializers.BooleanField()
    training_opt_out = serializers.BooleanField()
    max_key_lifetime_days = serializers.IntegerField(allow_null=True)
    monthly_token_budget = serializers.IntegerField(
        allow_null=True, help_text="Tokens all keys may use per calendar month (UTC)."
    )
    budget_alert_thresholds = serializers.ListField(child=serializers.IntegerField())


@extend_schema_field(
    {
        "type": "array",
        "items": {"type": "integer", "minimum": 1, "maximum": 100},
        "maxItems": BUDGET_ALERT_THRESHOLDS_MAX,
        "uniqueItems": True,
        "description": "Percentages of the monthly budget at which owners and admins get "
        "one email and one webhook event per month. Empty: no alerts.",
    }
)
class BudgetAlertThresholdsField(serializers.ListField):
    """Whole percentages 1..100, distinct, at most five: exactly what the service takes."""

    def __init__(self, **kwargs):
        kwargs.setdefault("child", serializers.IntegerField(min_value=1, max_value=100))
        kwargs.setdefault("max_length", BUDGET_ALERT_THRESHOLDS_MAX)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if len(set(value)) != len(value):
            raise serializers.ValidationError("Each threshold at most once.")
        return value


class WorkspaceCreateInputSerializer(StrictInputSerializer):
    name = serializers.CharField(max_length=100, validators=[validate_name])


class WorkspaceUpdateInputSerializer(StrictInputSerializer):
    """PATCH: send only what changes, at least one field."""

    requires_a_field = True
    name = serializers.CharField(max_length=100, required=False, validators=[validate_name])
    usage_retention_days = serializers.IntegerField(min_value=30, max_value=90, required=False)
    zero_data_retention = serializers.BooleanField(required=False)
    training_opt_out = serializers.BooleanField(required=False)
    max_key_lifetime_days = serializers.IntegerField(
        min_value=1, max_value=3650, required=False, allow_null=True
    )
    monthly_token_budget = serializers.IntegerField(
        min_value=1,
        max_value=WORKSPACE_BUDGET_MAX,
        required=False,
        allow_null=True,
        help_text="Tokens all keys may use per calendar month (UTC); verify refuses every "
        "key of the workspace with `budget_exhausted` once it is used. null: none.",
    )
    budget_alert_thresholds = BudgetAlertThresholdsField(required=False)


class WorkspaceTransferInputSerializer(StrictInputSerializer):
    user_id = serializers.IntegerField(
        min_value=1,
        max_value=2**63 - 1,
        help_text="The user id of the member who becomes an owner.",
    )
    keep_role = serializers.ChoiceField(
        choices=[Role.ADMIN.value, Role.DEVELOPER.value, Role.VIEWER.value],
        default=Role.ADMIN.value,
        help_text="Your role in the workspace afterwards.",
    )


# ---------------------------------------------------------------------------- members


class MemberOutputSerializer(serializers.Serializer):
    user_id = serializers.IntegerField()
    email = serializers.EmailField(source="user.email")
    name = serializers.CharField(source="user.name")
    role = serializers.ChoiceField(choices=Role.choices)
    joined_at = serializers.DateTimeField(source="created_at")


class MemberUpdateInputSerializer(StrictInputSerializer):
    role = serializers.ChoiceField(choices=Role.choices)


# ---------------------------------------------------------------------------- invitations


class InvitationOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    role = serializers.ChoiceField(choices=Role.choices)
    status = serializers.ChoiceField(choices=["pending", "accepted", "revoked", "expired"])
    invited_by_id = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()
    sent_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    accepted_at = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)


class InvitationCreateInputSerializer(StrictInputSerializer):
    email = serializers.EmailField(
        max_length=254,
        help_text="Normalised before use: the domain through IDNA and lower case. "
        "Quoted local parts and domains mixing alphabets are refused.",
    )
    role = serializers.ChoiceField(choices=Role.choices)

    def validate_email(self, value: str) -> str:
        return email_normalise(value)


# ---------------------------------------------------------------------------- audit events


class AuditEventOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    occurred_at = serializers.DateTimeField()
    action = serializers.CharField()
    actor_id = serializers.IntegerField(allow_null=True)
    actor_email = serializers.CharField(allow_null=True)
    target_type = serializers.CharField()
    target_id = serializers.CharField()
    metadata = serializers.DictField()
    ip_address = serializers.CharField(allow_null=True)


class AuditEventFilterSerializer(StrictQuerySerializer):
    action = serializers.ChoiceField(
        choices=Action.all(), required=False, help_text="Only this action."
    )
    actor = serializers.IntegerField(
        min_value=1, max_value=2**63 - 1, required=False, help_text="Only events by this user id."
    )
    since = serializers.DateField(required=False, help_text="From this date (UTC).")
    until = serializers.DateField(
        required=False, help_text="To this date (UTC); not before `since`."
    )

    def validate(self, attrs):
        since, until = attrs.get("since"), attrs.get("until")
        if since and until and since > until:
            raise serializers.ValidationError({"until": ["Must not be before since."]})
        return attrs
