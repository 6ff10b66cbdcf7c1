from accounts.forms.account import SignupDetailsForm

__all__ = ["SignupDetailsForm"]
