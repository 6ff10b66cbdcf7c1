"""Audit events recorded for what allauth and django.contrib.auth do."""

import re
import time

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import SECRET_SESSION_KEY, format_hotp_value, hotp_value
from allauth.usersessions.models import UserSession
from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts.audit import Action, audit_chain_verify
from accounts.models import AuditEvent
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "amber glacier trumpet 58"
AGENT = "Mozilla/5.0 (X11; Linux x86_64) TestBrowser/1.0"


def sign_in(client, user, password=DEFAULT_PASSWORD):
    response = client.post(
        reverse("account_login"),
        {"login": user.email, "password": password},
        HTTP_USER_AGENT=AGENT,
    )
    assert response.status_code == 302, response.content
    return response


def reauthenticate(client, password=DEFAULT_PASSWORD):
    """Confirm the password again, as email and MFA changes require."""
    response = client.post(reverse("account_reauthenticate"), {"password": password})
    assert response.status_code == 302, response.content


def events(action, **filters):
    return AuditEvent.objects.filter(action=action, **filters)


def totp_code(secret):
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30))


def activate_totp(client):
    reauthenticate(client)
    client.get(reverse("mfa_activate_totp"))
    secret = client.session[SECRET_SESSION_KEY]
    response = client.post(reverse("mfa_activate_totp"), {"code": totp_code(secret)})
    assert response.status_code == 302, response.content
    return secret


# allauth's MFA flows emit their signals and notices on commit, inside the request: these
# tests commit for real so that happens as in production.
mfa_test = pytest.mark.django_db(transaction=True)


def test_login_records_an_event_with_ip_and_user_agent(client, user):
    sign_in(client, user)
    event = events(Action.LOGIN, subject_user_id=user.pk).get()
    assert event.actor_id == user.pk
    assert event.ip_address == "127.0.0.1"
    assert event.user_agent == AGENT
    assert audit_chain_verify()[1] is None


def test_failed_login_for_an_existing_account_names_that_account(client, user):
    response = client.post(
        reverse("account_login"), {"login": user.email, "password": "not the password at all"}
    )
    assert response.status_code == 200
    event = events(Action.LOGIN_FAILED).get()
    assert event.subject_user_id == user.pk
    assert event.actor_id is None
    assert event.actor_email is None
    assert user.email not in str(event.metadata)


def test_failed_login_for_an_unknown_address_stores_the_address_nowhere(client):
    typed = "nobody-here@example.org"
    client.post(
        reverse("account_login"),
        {"login": typed, "password": "whatever whatever 1"},
        HTTP_USER_AGENT=AGENT,
    )
    event = events(Action.LOGIN_FAILED).get()
    assert event.subject_user_id is None and event.actor_id is None
    stored = [event.actor_email, event.target_id, event.target_type, event.user_agent]
    stored.append(str(event.metadata))
    assert not any("nobody-here" in (value or "") for value in stored)
    assert event.ip_address == "127.0.0.1"


def test_logout_records_an_event(client, user):
    sign_in(client, user)
    client.post(reverse("account_logout"))
    assert events(Action.LOGOUT, subject_user_id=user.pk).count() == 1


def test_password_change_records_an_event(client, user):
    sign_in(client, user)
    response = client.post(
        reverse("account_change_password"),
        {"oldpassword": DEFAULT_PASSWORD, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    assert events(Action.PASSWORD_CHANGED, subject_user_id=user.pk).count() == 1


def test_password_reset_records_an_event(client, user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("account_reset_password"), {"email": user.email})
    link = re.search(r"http://testserver(/accounts/password/reset/key/\S+/)", mail.outbox[0].body)
    form_url = client.get(link.group(1))["Location"]
    response = client.post(form_url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert response.status_code == 302
    assert events(Action.PASSWORD_RESET, subject_user_id=user.pk).count() == 1
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)


def test_email_change_records_added_confirmed_and_changed_without_the_addresses(
    client, user, django_capture_on_commit_callbacks
):
    sign_in(client, user)
    reauthenticate(client)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("account_email"), {"email": "new-address@example.com", "action_add": ""}
        )
    added = events(Action.EMAIL_ADDED, subject_user_id=user.pk).get()
    link = re.search(r"http://testserver(/accounts/confirm-email/\S+/)", mail.outbox[-1].body)
    client.post(link.group(1))
    assert events(Action.EMAIL_CONFIRMED, subject_user_id=user.pk).count() == 1
    changed = events(Action.EMAIL_CHANGED, subject_user_id=user.pk).get()
    for event in (added, changed):
        assert "new-address" not in str(event.metadata)
        assert event.target_type == "account.emailaddress"


def test_cancelling_a_pending_email_change_records_a_removal(client, user):
    sign_in(client, user)
    reauthenticate(client)
    client.post(reverse("account_email"), {"email": "other@example.com", "action_add": ""})
    client.post(reverse("account_email"), {"email": "other@example.com", "action_remove": ""})
    assert not EmailAddress.objects.filter(email="other@example.com").exists()
    assert events(Action.EMAIL_REMOVED, subject_user_id=user.pk).count() == 1


@mfa_test
def test_totp_activation_records_activation_and_recovery_codes(client, user):
    sign_in(client, user)
    activate_totp(client)
    activated = events(Action.MFA_ACTIVATED, subject_user_id=user.pk).get()
    assert activated.metadata == {"type": "totp"}
    assert events(Action.MFA_RECOVERY_CODES_GENERATED, subject_user_id=user.pk).count() == 1


@mfa_test
def test_regenerating_recovery_codes_records_an_event(client, user):
    sign_in(client, user)
    activate_totp(client)
    response = client.post(reverse("mfa_generate_recovery_codes"))
    assert response.status_code == 302
    assert events(Action.MFA_RECOVERY_CODES_GENERATED, subject_user_id=user.pk).count() == 2


@mfa_test
def test_totp_deactivation_records_one_event(client, user):
    sign_in(client, user)
    activate_totp(client)
    response = client.post(reverse("mfa_deactivate_totp"))
    assert response.status_code == 302
    assert not Authenticator.objects.filter(user=user).exists()
    assert events(Action.MFA_DEACTIVATED, subject_user_id=user.pk).count() == 1


@mfa_test
def test_wrong_mfa_code_at_login_records_a_failed_login(client, user):
    sign_in(client, user)
    activate_totp(client)
    client.post(reverse("account_logout"))
    other = Client()
    other.post(reverse("account_login"), {"login": user.email, "password": DEFAULT_PASSWORD})
    response = other.post(reverse("mfa_authenticate"), {"code": "000000"})
    assert response.status_code == 200
    failed = events(Action.LOGIN_FAILED, subject_user_id=user.pk).get()
    assert failed.metadata["stage"] == "mfa"


def test_signing_out_another_session_records_an_event(client, user):
    sign_in(client, user)
    sign_in(Client(), user)
    other = UserSession.objects.exclude(session_key=client.session.session_key).get(user=user)
    response = client.post(reverse("account_session_end", kwargs={"session_id": other.pk}))
    assert response.status_code == 302
    event = events(Action.SESSION_ENDED, subject_user_id=user.pk).get()
    assert event.target_id == str(other.pk)


def test_signing_out_all_other_sessions_records_one_event_per_session(client, user):
    sign_in(client, user)
    sign_in(Client(), user)
    sign_in(Client(), user)
    client.post(reverse("usersessions_list"))
    assert UserSession.objects.filter(user=user).count() == 1
    assert events(Action.SESSION_ENDED, subject_user_id=user.pk).count() == 2


def test_signup_is_recorded_once(client):
    client.post(
        reverse("account_signup"),
        {
            "name": "Grace Hopper",
            "email": "grace@example.com",
            "password1": NEW_PASSWORD,
            "age_confirmed": "on",
        },
    )
    assert events(Action.SIGNUP).count() == 1
    assert not events(Action.LOGIN).exists()


def test_another_users_events_are_not_attributed(client, user):
    bystander = UserFactory()
    sign_in(client, user)
    assert not AuditEvent.objects.filter(subject_user_id=bystander.pk).exists()
