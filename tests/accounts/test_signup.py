"""Sign-up: details, age gate, password rules, enumeration, mandatory verification."""

import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.urls import reverse

from accounts.audit import Action
from accounts.models import AuditEvent, Membership, User
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


def test_signup_creates_user_with_name_age_workspace_and_sends_verification(client):
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


def test_signup_with_an_existing_address_looks_like_a_new_signup(client):
    UserFactory(email="taken@example.com")
    fresh = _signup(client, email="fresh@example.com")
    client.logout()
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


def test_following_the_verification_link_lets_the_user_sign_in(client):
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
