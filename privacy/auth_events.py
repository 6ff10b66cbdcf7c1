"""Where allauth hands over sign-in and sign-up: the library's own integration points.

Consent given in this browser before signing in is linked to the account, and a new
account records the policy versions it accepted.
"""

from allauth.account import signals as account_signals
from django.dispatch import receiver

from privacy.consent.cookies import VISITOR_COOKIE, parse_visitor_id


@receiver(account_signals.user_logged_in, dispatch_uid="privacy_link_consent")
def link_consent_on_login(sender, request, user, **kwargs):
    from privacy.consent.services import consent_link_visitor

    visitor_id = getattr(request, "consent_visitor_id", None) or parse_visitor_id(
        request.COOKIES.get(VISITOR_COOKIE)
    )
    consent_link_visitor(user=user, visitor_id=visitor_id)


@receiver(account_signals.user_signed_up, dispatch_uid="privacy_record_policy_acceptance")
def record_policies_on_signup(sender, request, user, **kwargs):
    from privacy.policies.services import policy_acceptance_record_signup

    policy_acceptance_record_signup(user=user)
