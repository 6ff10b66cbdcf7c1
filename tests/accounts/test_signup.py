"""Sign-up: details, age gate, password rules, enumeration, mandatory verification."""

import html
import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.urls import reverse

from accounts import services
from accounts.audit import Action
from accounts.errors import DomainError
from accounts.models import AuditEvent, Membership, User, Workspace
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

STRONG_PASSWORD = "violet kettle orbit 93"


def _signup(client, **overrides):
    data = {
        "name": "Ada Lovelace",
        "email": "ada@example.com",
        "password1": STRONG_PASSWORD,
        "age_confirmed": "on",
    }
    data.update(overrides)
    return client.post(reverse("account_signup"), {k: v for k, v in data.items() if v is not None})


def test_signup_page_has_the_stable_labels_and_button(client):
    body = client.get(reverse("account_signup")).content.decode()
    for label in ("Full name", "Email", "Password", "I am 13 years of age or older"):
        assert re.search(rf"<label for=\"[^\"]+\">{re.escape(label)}</label>", body), label
    assert ">Create account</button>" in body


def test_signup_creates_user_with_name_age_workspace_and_sends_verification(
    client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = _signup(client)
    assert response.status_code == 302
    assert response["Location"] == reverse("account_email_verification_sent")
    user = User.objects.get(email="ada@example.com")
    assert user.name == "Ada Lovelace"
    assert user.age_confirmed_at is not None
    assert not EmailAddress.objects.get(user=user).verified
    membership = Membership.objects.get(user=user)
    assert membership.workspace.is_personal
    assert AuditEvent.objects.filter(action=Action.SIGNUP, subject_user_id=user.pk).count() == 1
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["ada@example.com"]


def test_signup_without_age_confirmation_is_refused_and_stores_nothing(client):
    response = _signup(client, age_confirmed=None)
    assert response.status_code == 200
    assert "You must be 13 or older" in response.content.decode()
    assert not User.objects.filter(email="ada@example.com").exists()
    assert not EmailAddress.objects.filter(email="ada@example.com").exists()
    assert not AuditEvent.objects.filter(action=Action.SIGNUP).exists()
    assert mail.outbox == []


def test_signup_refuses_a_password_shorter_than_twelve_characters(client):
    response = _signup(client, password1="Tq9#vLm2xP")
    assert response.status_code == 200
    assert "at least 12 characters" in response.content.decode()
    assert not User.objects.filter(email="ada@example.com").exists()


def test_signup_refuses_a_common_password(client):
    response = _signup(client, password1="password1234")
    assert response.status_code == 200
    assert "This password is too common" in response.content.decode()
    assert not User.objects.filter(email="ada@example.com").exists()


def test_signup_refuses_a_blank_name(client):
    response = _signup(client, name="   ")
    assert response.status_code == 200
    assert not User.objects.filter(email="ada@example.com").exists()


def test_signup_with_an_existing_address_looks_like_a_new_signup(
    client, django_capture_on_commit_callbacks
):
    UserFactory(email="taken@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        fresh = _signup(client, email="fresh@example.com")
    client.logout()
    with django_capture_on_commit_callbacks(execute=True):
        taken = _signup(client, email="taken@example.com", name="Someone Else")
    assert fresh.status_code == taken.status_code == 302
    assert fresh["Location"] == taken["Location"]
    assert User.objects.filter(email="taken@example.com").count() == 1
    assert User.objects.get(email="taken@example.com").name != "Someone Else"
    # The owner of the address is told instead, by email only.
    assert [m.to for m in mail.outbox] == [["fresh@example.com"], ["taken@example.com"]]


def test_unverified_user_cannot_sign_in_or_reach_the_dashboard(client):
    UserFactory(email="new@example.com", verified=False)
    response = client.post(
        reverse("account_login"), {"login": "new@example.com", "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("account_email_verification_sent")
    dashboard = client.get(reverse("dashboard"))
    assert dashboard.status_code == 302
    assert dashboard["Location"].startswith(reverse("account_login"))


def test_following_the_verification_link_lets_the_user_sign_in(
    client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _signup(client)
    link = re.search(r"http://testserver(/accounts/confirm-email/[^\s]+/)", mail.outbox[0].body)
    assert link, mail.outbox[0].body
    assert client.post(link.group(1)).status_code == 302
    assert EmailAddress.objects.get(email="ada@example.com").verified
    response = client.post(
        reverse("account_login"), {"login": "ada@example.com", "password": STRONG_PASSWORD}
    )
    assert response["Location"] == reverse("dashboard")
    assert client.get(reverse("dashboard")).status_code == 200


# ---------------------------------------------------------------- all or nothing


def _nothing_stored(email: str = "ada@example.com") -> bool:
    return (
        not User.objects.filter(email=email).exists()
        and not EmailAddress.objects.filter(email=email).exists()
        and not Workspace.objects.exists()
        and not AuditEvent.objects.exists()
    )


def test_signup_with_a_95_character_single_word_name_creates_the_whole_account(
    client, django_capture_on_commit_callbacks
):
    name = "Wolfeschlegelsteinhausenbergerdorff" * 2 + "A" * 25
    assert len(name) == 95
    with django_capture_on_commit_callbacks(execute=True):
        response = _signup(client, name=name)
    assert response.status_code == 302
    user = User.objects.get(email="ada@example.com")
    assert user.name == name
    assert user.age_confirmed_at is not None
    workspace = Membership.objects.get(user=user).workspace
    assert workspace.is_personal
    assert len(workspace.name) <= 100
    assert workspace.name.startswith(name[:80]) and workspace.name.endswith("…'s workspace")
    assert AuditEvent.objects.filter(action=Action.SIGNUP, subject_user_id=user.pk).count() == 1
    assert [m.to for m in mail.outbox] == [["ada@example.com"]]


@pytest.mark.parametrize(
    "name",
    [
        "Ada\tLovelace",
        "Ada\nLovelace",
        "Ada\r\nBcc: someone@example.com",
        "Ada\x1b[31mLovelace",
        "Ada\u2028Lovelace",
        "Ada \u202eecalevoL",
        "Ada \u2066Lovelace\u2069",
        "Ada\u200fLovelace",
    ],
    ids=["tab", "newline", "header", "escape", "line separator", "RLO", "LRI", "RLM"],
)
def test_signup_refuses_a_name_with_control_or_direction_characters_and_stores_nothing(
    client, django_capture_on_commit_callbacks, name
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = _signup(client, name=name)
    assert response.status_code == 200
    assert "no line breaks, tabs, control characters or text-direction marks" in (
        response.content.decode()
    )
    assert _nothing_stored()
    assert callbacks == []
    assert mail.outbox == []


@pytest.mark.django_db(transaction=True)
def test_a_failure_after_allauth_saved_the_user_rolls_back_the_whole_signup(client, monkeypatch):
    """Committed for real (no test transaction around it): nothing of the sign-up stays."""

    def fail(**kwargs):
        raise RuntimeError("the personal workspace could not be created")

    monkeypatch.setattr(services, "workspace_create", fail)
    client.raise_request_exception = False
    response = _signup(client)
    assert response.status_code == 500
    assert _nothing_stored()
    assert mail.outbox == []

    # The address is not taken: the same person can sign up once the fault is gone.
    monkeypatch.undo()
    client.raise_request_exception = True
    response = _signup(client)
    assert response.status_code == 302
    user = User.objects.get(email="ada@example.com")
    assert Membership.objects.filter(user=user, workspace__is_personal=True).exists()
    assert [m.to for m in mail.outbox] == [["ada@example.com"]]


def test_a_rule_refused_during_signup_is_shown_on_the_form_and_stores_nothing(
    client, monkeypatch, django_capture_on_commit_callbacks
):
    def refuse(**kwargs):
        raise DomainError("Workspaces cannot be created right now.")

    monkeypatch.setattr(services, "workspace_create", refuse)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = _signup(client)
    assert response.status_code == 200
    assert "Workspaces cannot be created right now." in response.content.decode()
    assert _nothing_stored()
    assert callbacks == []


# ---------------------------------------------------------------- one mailbox, one account


@pytest.mark.parametrize(
    "spelling",
    ["alice@\uff45xample.com", "ALICE@EXAMPLE.COM", " alice@Example.com "],
    ids=["full-width domain", "upper case", "spaces"],
)
def test_signup_with_another_spelling_of_a_taken_mailbox_makes_no_second_account(
    client, django_capture_on_commit_callbacks, spelling
):
    UserFactory(email="alice@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        response = _signup(client, email=spelling, name="Mallory")
    assert response.status_code == 302
    assert response["Location"] == reverse("account_email_verification_sent")
    assert User.objects.count() == 1
    assert EmailAddress.objects.count() == 1
    # The owner is told someone tried, as for the exact spelling.
    assert [m.to for m in mail.outbox] == [["alice@example.com"]]


def test_signup_stores_the_normalised_address(client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        _signup(client, email="Alice@\uff25xample.COM")
    user = User.objects.get()
    assert user.email == "alice@example.com"
    assert EmailAddress.objects.get(user=user).email == "alice@example.com"
    assert mail.outbox[0].to == ["alice@example.com"]


def test_a_punycode_domain_and_its_unicode_spelling_are_one_mailbox(
    client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _signup(client, email="alice@xn--bcher-kva.de")
    assert User.objects.get().email == "alice@b\u00fccher.de"
    client.logout()
    with django_capture_on_commit_callbacks(execute=True):
        _signup(client, email="alice@B\u00dcCHER.de", name="Mallory")
    assert User.objects.count() == 1


@pytest.mark.parametrize(
    ("spelling", "message"),
    [
        ('"alice"@example.com', "Addresses with quotation marks are not accepted"),
        ("alice@ex\u0430mple.com", "The domain mixes letters from different alphabets"),
        ("alice@xn--exmple-4nf.com", "The domain mixes letters from different alphabets"),
    ],
    ids=["quoted local part", "Cyrillic a in a Latin domain", "its punycode spelling"],
)
def test_signup_refuses_quoted_and_mixed_script_addresses_with_a_clear_message(
    client, django_capture_on_commit_callbacks, spelling, message
):
    UserFactory(email="alice@example.com")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = _signup(client, email=spelling)
    assert response.status_code == 200
    assert message in html.unescape(response.content.decode())
    assert User.objects.count() == 1
    assert callbacks == []
