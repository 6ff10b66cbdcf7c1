"""allauth adapters: where the libraries hand control back to our services."""

from allauth.account.adapter import DefaultAccountAdapter
from allauth.usersessions.adapter import DefaultUserSessionsAdapter
from django import forms
from django.core.exceptions import PermissionDenied, ValidationError

from accounts.client_address import client_address
from accounts.emails import email_enqueue_rendered
from accounts.validators import email_normalise


class AccountAdapter(DefaultAccountAdapter):
    """Sign-up finishes through `SignupDetailsForm.signup` → `user_signup_complete`."""

    def clean_email(self, email: str) -> str:
        """Return the one spelling of the address, so one mailbox can hold one account.

        allauth calls this wherever an address comes in (sign-up, adding or changing an
        address, password reset) before it checks whether the address is taken.
        """
        email = super().clean_email(email)
        try:
            return email_normalise(email)
        except ValidationError as exc:
            raise forms.ValidationError(exc.messages[0], code=exc.code) from None

    def send_mail(self, template_prefix: str, email: str, context: dict) -> None:
        """Render now and send once the transaction commits, like the console's own mail.

        A sign-up that rolls back therefore sends no confirmation for an account that
        does not exist.
        """
        message = self._render_for_send(template_prefix, email, context)
        email_enqueue_rendered(to=list(message.to), subject=message.subject, body=message.body)

    def _render_for_send(self, template_prefix: str, email: str, context: dict):
        from allauth.core import context as allauth_context
        from django.contrib.sites.shortcuts import get_current_site

        request = allauth_context.request
        ctx = {"request": request, "email": email, "current_site": get_current_site(request)}
        ctx.update(context)
        return self.render_mail(template_prefix, email, ctx)

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
