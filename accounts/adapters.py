"""allauth adapters: where the libraries hand control back to our services."""

from allauth.account.adapter import DefaultAccountAdapter
from allauth.usersessions.adapter import DefaultUserSessionsAdapter


class AccountAdapter(DefaultAccountAdapter):
    """Sign-up finishes through `SignupDetailsForm.signup` → `user_signup_complete`."""


class UserSessionsAdapter(DefaultUserSessionsAdapter):
    def end_sessions(self, sessions) -> None:
        """End sessions through our service so each one leaves an audit event."""
        from accounts.services import user_sessions_end

        by_user: dict = {}
        for session in sessions:
            by_user.setdefault(session.user_id, []).append(session)
        for owned in by_user.values():
            user_sessions_end(user=owned[0].user, sessions=owned)
