"""Template context for the consent banner, policy-change notices and a pending account
deletion on every page."""

import json

from privacy.consent.cookies import GPC_BLOCKED
from privacy.consent.selectors import consent_state_for_request
from privacy.policies.selectors import policy_pending_acknowledgements


def privacy(request):
    state = consent_state_for_request(request)
    return {
        "consent": state,
        "consent_category_cookies_json": json.dumps(state.category_cookies, sort_keys=True),
        "consent_gpc_blocked": GPC_BLOCKED,
        "policy_notices": policy_pending_acknowledgements(user=getattr(request, "user", None)),
        "pending_account_deletion": _pending_deletion(request),
    }


def _pending_deletion(request):
    """The signed-in person's account deletion in its grace period, if any: every page
    then offers to cancel it."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    from privacy.deletion.services import account_deletion_pending

    return account_deletion_pending(user=user)
