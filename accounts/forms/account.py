"""Forms for the account itself: sign-up details, profile, preferences."""

from django import forms

from accounts.validators import validate_name


class SignupDetailsForm(forms.Form):
    """Extra sign-up fields; allauth calls `signup(request, user)` after creating the user.

    Every field is checked here, before allauth writes anything: the age confirmation
    is required, and the name is one that the personal workspace can be named after.
    allauth runs the whole sign-up in one transaction (`accounts.views.signup`).
    """

    field_order = ["name", "email", "password1", "password2", "age_confirmed"]

    name = forms.CharField(
        max_length=150,
        label="Full name",
        validators=[validate_name],
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    age_confirmed = forms.BooleanField(
        required=True,
        label="I am 13 years of age or older",
        error_messages={"required": "You must be 13 or older to use Console."},
    )

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("Enter your name.")
        return name

    def signup(self, request, user):
        from accounts.services import user_signup_complete

        user_signup_complete(user=user, name=self.cleaned_data["name"])


class ProfileForm(forms.Form):
    name = forms.CharField(
        max_length=150,
        label="Full name",
        validators=[validate_name],
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("Enter your name.")
        return name


class PreferencesForm(forms.Form):
    marketing_emails = forms.BooleanField(
        required=False,
        label="Product news and offers",
        help_text="Occasional email about new models and features. Off unless you turn it on.",
    )
