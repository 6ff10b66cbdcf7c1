"""allauth adapters: where the libraries hand control back to our services."""

from allauth.account.adapter import DefaultAccountAdapter
from allauth.usersessions.adapter import DefaultUserSessionsAdapter
from django.core.exceptions import PermissionDenied

from accounts.client_address import client_address


class AccountAdapter(DefaultAccountAdapter):
    """Sign-up finishes through `SignupDetailsForm.signup` → `user_signup_complete`."""

    def get_client_ip(self, request) -> str:
        """Return the client's address behind trusted proxies (`TRUSTED_PROXIES`).

        allauth's rate limits, its session list and its security emails all ask here;
        its own `ALLAUTH_TRUSTED_PROXY_COUNT` counts hops and would trust a spoofed
        header whenever the count is wrong.
        """
        ip = client_address(request)
        if not ip:
            raise PermissionDenied("Unable to determine client IP address")
        return ip


class UserSessionsAdapter(DefaultUserSessionsAdapter):
    def end_sessions(self, sessions) -> None:
        """End sessions through our service so each one leaves an audit event."""
        from accounts.services import user_sessions_end

        by_user: dict = {}
        for session in sessions:
            by_user.setdefault(session.user_id, []).append(session)
        for owned in by_user.values():
            user_sessions_end(user=owned[0].user, sessions=owned)
