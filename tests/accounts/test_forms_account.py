import pytest

from accounts.forms.account import PreferencesForm, ProfileForm, SignupDetailsForm


def test_signup_details_require_the_age_confirmation():
    form = SignupDetailsForm({"name": "Ada"})
    assert not form.is_valid()
    assert form.errors["age_confirmed"] == ["You must be 13 or older to use Console."]


def test_signup_details_strip_the_name():
    form = SignupDetailsForm({"name": "  Ada Lovelace  ", "age_confirmed": "on"})
    assert form.is_valid()
    assert form.cleaned_data["name"] == "Ada Lovelace"


@pytest.mark.parametrize("name", ["", "   ", "x" * 151])
def test_profile_form_refuses_blank_or_overlong_names(name):
    assert not ProfileForm({"name": name}).is_valid()


def test_preferences_form_reads_a_missing_box_as_off():
    form = PreferencesForm({})
    assert form.is_valid()
    assert form.cleaned_data["marketing_emails"] is False
