from django import forms

from accounts.forms.widgets import QuickSelect


class _Form(forms.Form):
    plain = forms.ChoiceField(
        choices=[("", "Any"), ("a.b", 'A <b> & "c"'), ("7", "Seven")], required=False
    )
    quick = forms.ChoiceField(
        choices=[("", "Any"), ("a.b", 'A <b> & "c"'), ("7", "Seven")],
        required=False,
        widget=QuickSelect(attrs={"class": "wide", "data-x": "1"}),
    )


def _markup(form, name: str) -> str:
    return str(form[name]).replace(f'name="{name}"', 'name="f"').replace(f"id_{name}", "id_f")


def test_quick_select_writes_the_same_markup_as_django_select():
    for data in ({}, {"plain": "a.b", "quick": "a.b"}, {"plain": "zzz", "quick": "zzz"}):
        form = _Form(data or None)
        form.fields["plain"].widget.attrs = {"class": "wide", "data-x": "1"}
        assert _markup(form, "quick") == _markup(form, "plain")
        assert "&lt;b&gt; &amp; &quot;c&quot;" in _markup(form, "quick")


def test_quick_select_marks_the_chosen_option_selected():
    form = _Form({"quick": "7"})
    assert '<option value="7" selected>Seven</option>' in str(form["quick"])
    assert '<option value="" selected>' not in str(form["quick"])


def test_quick_select_leaves_option_groups_to_django():
    choices = [("Group", [("x", "X"), ("y", "Y")])]
    quick = QuickSelect(choices=choices).render("f", "y")
    assert quick == forms.Select(choices=choices).render("f", "y")
    assert "<optgroup" in quick
