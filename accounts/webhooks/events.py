"""The event types workspace endpoints subscribe to. `data` never holds a secret.

Every payload is the envelope `{"type", "timestamp", "schema_version", "data"}`; the
`data` of each type is documented in docs/webhooks.md. A change that removes or renames
a field of `data` raises SCHEMA_VERSION.
"""

SCHEMA_VERSION = 1

API_KEY_CREATED = "api_key.created"
API_KEY_REVOKED = "api_key.revoked"
API_KEY_ROTATED = "api_key.rotated"
API_KEY_EXPIRING = "api_key.expiring"
API_KEY_LEAK_REPORTED = "api_key.leak_reported"
MEMBER_INVITED = "member.invited"
MEMBER_JOINED = "member.joined"
MEMBER_REMOVED = "member.removed"
MEMBER_ROLE_CHANGED = "member.role_changed"
USAGE_BUDGET_THRESHOLD_CROSSED = "usage.budget_threshold_crossed"
PRIVACY_REQUEST_STATUS_CHANGED = "privacy_request.status_changed"
WORKSPACE_DELETION_SCHEDULED = "workspace.deletion_scheduled"
WORKSPACE_DELETION_CANCELLED = "workspace.deletion_cancelled"

# Workspace endpoints choose among these, in this order on every page.
EVENT_TYPES: tuple[str, ...] = (
    API_KEY_CREATED,
    API_KEY_REVOKED,
    API_KEY_ROTATED,
    API_KEY_EXPIRING,
    API_KEY_LEAK_REPORTED,
    MEMBER_INVITED,
    MEMBER_JOINED,
    MEMBER_REMOVED,
    MEMBER_ROLE_CHANGED,
    USAGE_BUDGET_THRESHOLD_CROSSED,
    PRIVACY_REQUEST_STATUS_CHANGED,
    WORKSPACE_DELETION_SCHEDULED,
    WORKSPACE_DELETION_CANCELLED,
)

# Sent to system endpoints (privacy processors) only.
PRIVACY_REQUEST_PROCESSOR_ACTION = "privacy_request.processor_action"
