"""Sign-up: allauth's page, made all or nothing."""

from allauth.account.views import SignupView as AllauthSignupView
from django.db import transaction

from accounts.errors import DomainError


class SignupView(AllauthSignupView):
    """allauth's sign-up in one transaction.

    allauth saves the user, its email address, then calls `SignupDetailsForm.signup`
    (name, age confirmation, personal workspace, audit event) and queues the
    confirmation email. Any failure on the way rolls all of it back, so an address is
    never left taken by half an account.
    """

    def form_valid(self, form):
        try:
            with transaction.atomic():
                return super().form_valid(form)
        except DomainError as error:
            # The form checks every rule first; this only guards against a gap there.
            form.add_error(None, error.message)
            return self.form_invalid(form)


signup = SignupView.as_view()
