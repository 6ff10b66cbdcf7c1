"""`manage.py email_collisions`: accounts stored before the address rules that share a mailbox."""

from io import StringIO

import pytest
from allauth.account.models import EmailAddress
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.models import User
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _run(*args) -> str:
    out = StringIO()
    call_command("email_collisions", *args, stdout=out)
    return out.getvalue()


def test_no_collisions_and_nothing_refused_is_reported_as_such():
    UserFactory(email="alice@example.com")
    UserFactory(email="bob@example.com")
    output = _run("--check")
    assert "0 mailbox(es) shared by 0 account(s); 0 stored address(es) refused" in output
    assert "Accounts sharing one mailbox" not in output


def test_full_width_quoted_and_upper_case_spellings_of_one_mailbox_are_listed_together():
    alice = UserFactory(email="alice@example.com")
    wide = UserFactory(email="alice@\uff45xample.com")
    quoted = UserFactory(email='"alice"@example.com')
    bob = UserFactory(email="bob@example.com")
    output = _run()
    group = output.split("\nmailbox 'alice@example.com'\n", 1)[1].split("\n\n", 1)[0]
    for user in (alice, wide, quoted):
        assert f"user {user.pk} " in group
    assert f"user {bob.pk} " not in output
    # Look-alike characters are shown escaped, so they can be told apart on screen.
    assert "alice@\\uff45xample.com" in group
    assert "1 mailbox(es) shared by 3 account(s)" in output


def test_a_mixed_script_domain_and_its_punycode_spelling_collide_and_are_both_refused():
    cyrillic = UserFactory(email="alice@ex\u0430mple.com")
    punycode = UserFactory(email="alice@xn--exmple-4nf.com")
    UserFactory(email="alice@example.com")
    output = _run()
    group = output.split("\nmailbox 'alice@ex\\u0430mple.com'\n", 1)[1].split("\n\n", 1)[0]
    assert f"user {cyrillic.pk} " in group and f"user {punycode.pk} " in group
    assert "1 mailbox(es) shared by 2 account(s); 2 stored address(es) refused" in output
    refused = output.split("Stored addresses the current rules refuse:", 1)[1]
    assert "mixes letters from different alphabets" in refused


def test_a_secondary_address_of_another_account_counts_as_a_collision():
    owner = UserFactory(email="carol@example.com")
    other = UserFactory(email="dave@example.com")
    EmailAddress.objects.create(user=other, email="CAROL@\uff45xample.com", verified=False)
    output = _run()
    group = output.split("\nmailbox 'carol@example.com'\n", 1)[1]
    assert f"user {owner.pk}  'carol@example.com'" in group
    assert f"user {other.pk}  'CAROL@\\uff45xample.com'" in group
    assert "unverified" in group


def test_check_fails_when_accounts_collide_and_the_command_changes_nothing():
    UserFactory(email="erin@example.com")
    UserFactory(email='"erin"@example.com')
    with pytest.raises(CommandError, match="1 mailbox"):
        _run("--check")
    assert sorted(User.objects.values_list("email", flat=True)) == [
        '"erin"@example.com',
        "erin@example.com",
    ]
