"""Template context for the consent banner and policy-change notices on every page."""

import json

from privacy.consent import GPC_BLOCKED
from privacy.selectors import consent_state_for_request, policy_pending_acknowledgements


def privacy(request):
    state = consent_state_for_request(request)
    return {
        "consent": state,
        "consent_category_cookies_json": json.dumps(state.category_cookies, sort_keys=True),
        "consent_gpc_blocked": GPC_BLOCKED,
        "policy_notices": policy_pending_acknowledgements(user=getattr(request, "user", None)),
    }
