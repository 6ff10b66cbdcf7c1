"""Forms for the account itself: sign-up details, profile, preferences."""

from django import forms


class SignupDetailsForm(forms.Form):
    """Extra sign-up fields; allauth calls `signup(request, user)` after creating the user."""

    name = forms.CharField(max_length=150, label="Full name")
    age_confirmed = forms.BooleanField(required=True, label="I am 13 years of age or older")

    def signup(self, request, user):
        from accounts.services import user_signup_complete

        user_signup_complete(user=user, name=self.cleaned_data["name"])
