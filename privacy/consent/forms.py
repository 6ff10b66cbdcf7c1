"""Form of the consent banner and the cookie settings page."""

from django import forms

CONSENT_CHOICES = [
    ("accept_all", "Accept all"),
    ("reject_all", "Reject all"),
    ("save", "Save my choices"),
]


class ConsentForm(forms.Form):
    """One decision from the banner or the cookie settings page. Nothing is pre-ticked."""

    choice = forms.ChoiceField(choices=CONSENT_CHOICES)
    preferences = forms.BooleanField(
        required=False,
        label="Preferences",
        help_text="Remember display choices between visits.",
    )
    analytics = forms.BooleanField(
        required=False,
        label="Analytics",
        help_text="Count page views in aggregate so we can improve the console.",
    )
    marketing = forms.BooleanField(
        required=False,
        label="Marketing",
        help_text="Measure whether our campaigns reach people.",
    )
    next = forms.CharField(required=False, max_length=2000, widget=forms.HiddenInput)

    def categories(self) -> dict[str, bool]:
        """Return the categories the decision allows."""
        choice = self.cleaned_data["choice"]
        names = ("preferences", "analytics", "marketing")
        if choice == "accept_all":
            return dict.fromkeys(names, True)
        if choice == "reject_all":
            return dict.fromkeys(names, False)
        return {name: bool(self.cleaned_data.get(name)) for name in names}
