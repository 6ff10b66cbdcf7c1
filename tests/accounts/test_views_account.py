"""Account pages, the dashboard shell and allauth's pages as configured here."""

import re
import time

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.totp.internal.auth import SECRET_SESSION_KEY, format_hotp_value, hotp_value
from allauth.usersessions.models import UserSession
from django.core import mail
from django.test import Client, override_settings
from django.urls import NoReverseMatch, reverse

from accounts.audit import Action, audit_record
from accounts.models import AuditEvent
from accounts.permissions import Role
from accounts.views.account import ACTIVITY_PAGE_SIZE
from tests.factories import DEFAULT_PASSWORD, UserFactory, WorkspaceFactory, add_member

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "amber glacier trumpet 58"
LOGIN_LIMITS = {"login": "30/m/ip", "login_failed": "10/m/ip,5/300s/key"}


def sign_in(client, user, password=DEFAULT_PASSWORD):
    response = client.post(reverse("account_login"), {"login": user.email, "password": password})
    assert response.status_code == 302, response.content
    return response


@pytest.fixture
def signed_in(client, user):
    sign_in(client, user)
    return client


# ---------------------------------------------------------------- shell and dashboard


def test_dashboard_requires_sign_in(client):
    response = client.get(reverse("dashboard"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_dashboard_lists_my_workspaces_with_my_role_only(signed_in, user):
    team = WorkspaceFactory(owner=UserFactory(), name="Team Rocket")
    add_member(team, Role.VIEWER, user=user)
    WorkspaceFactory(owner=UserFactory(), name="Someone Elses")
    body = signed_in.get(reverse("dashboard")).content.decode()
    assert "Team Rocket" in body
    assert "Viewer" in body
    assert "Someone Elses" not in body


def test_pages_carry_csrf_meta_and_no_inline_script_or_style(signed_in):
    for name in ("dashboard", "profile", "preferences", "security", "account_activity"):
        body = signed_in.get(reverse(name)).content.decode()
        assert re.search(r'<meta name="csrf-token" content="[^"]+">', body), name
        assert " style=" not in body and "<style" not in body, name
        for tag in re.findall(r"<script[^>]*>", body):
            assert "src=" in tag, (name, tag)


def test_sign_out_in_the_user_menu_is_a_post_form(signed_in):
    body = signed_in.get(reverse("dashboard")).content.decode()
    action = re.escape(reverse("account_logout"))
    form = rf'<form method="post" action="{action}"[^>]*>\s*'
    assert re.search(form + r'<input type="hidden" name="csrfmiddlewaretoken"', body)


def test_workspace_navigation_links_pages_that_exist_and_marks_the_rest_coming_soon(
    signed_in, user
):
    workspace = WorkspaceFactory(owner=user)
    session = signed_in.session
    session["current_workspace_id"] = str(workspace.pk)
    session.save()
    body = signed_in.get(reverse("dashboard")).content.decode()
    items = {
        "Overview": "workspace_detail",
        "Keys": "apikey_list",
        "Usage": "usage_dashboard",
        "Members": "workspace_members",
        "Audit log": "workspace_audit",
        "Settings": "workspace_settings",
    }
    for label, name in items.items():
        try:
            url = reverse(name, kwargs={"workspace_id": workspace.pk})
        except NoReverseMatch:
            assert f'{label} <span class="badge badge-muted">Coming soon</span>' in body, label
        else:
            assert f'href="{url}"' in body, label


def test_responses_carry_a_csp_that_allows_data_images_only_from_self(signed_in):
    policy = signed_in.get(reverse("dashboard"))["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "style-src 'self'" in policy
    assert "img-src 'self' data:" in policy


def test_login_page_has_the_stable_labels_and_button(client):
    body = client.get(reverse("account_login")).content.decode()
    assert re.search(r'<label for="id_login">Email</label>', body)
    assert re.search(r'<label for="id_password">Password</label>', body)
    assert ">Sign in</button>" in body


# ---------------------------------------------------------------- profile and preferences


def test_profile_update_saves_the_name_and_records_an_event(signed_in, user):
    response = signed_in.post(reverse("profile"), {"name": "Grace Hopper"})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.name == "Grace Hopper"
    assert AuditEvent.objects.filter(action=Action.PROFILE_UPDATED, actor_id=user.pk).exists()


def test_profile_shows_the_email_with_a_link_to_email_management(signed_in, user):
    body = signed_in.get(reverse("profile")).content.decode()
    assert user.email in body
    assert f'href="{reverse("account_email")}"' in body


@pytest.mark.parametrize(
    "name", ["   ", "x" * 151, "Grace\tHopper", "Grace\r\nHopper", "Grace \u202eeppoH"]
)
def test_profile_refuses_a_bad_name_and_changes_nothing(signed_in, user, name):
    before = user.name
    response = signed_in.post(reverse("profile"), {"name": name})
    assert response.status_code == 400
    assert 'class="errorlist' in response.content.decode()
    user.refresh_from_db()
    assert user.name == before


def test_marketing_email_is_off_by_default_and_can_be_switched(signed_in, user):
    assert user.marketing_emails is False
    body = signed_in.get(reverse("preferences")).content.decode()
    assert "always send email about your account's security" in body
    assert signed_in.post(reverse("preferences"), {"marketing_emails": "on"}).status_code == 302
    user.refresh_from_db()
    assert user.marketing_emails is True
    signed_in.post(reverse("preferences"), {})
    user.refresh_from_db()
    assert user.marketing_emails is False
    assert AuditEvent.objects.filter(action=Action.PREFERENCES_UPDATED).count() == 2


def test_security_hub_links_to_password_mfa_sessions_and_email(signed_in):
    body = signed_in.get(reverse("security")).content.decode()
    for name in ("account_change_password", "mfa_index", "usersessions_list", "account_email"):
        assert f'href="{reverse(name)}"' in body, name


# ---------------------------------------------------------------- activity


def test_activity_shows_my_events_newest_first_with_ip_and_agent(signed_in, user):
    audit_record(action=Action.PASSWORD_CHANGED, actor=user, ip_address="198.51.100.9")
    other = UserFactory()
    audit_record(action=Action.LOGIN, actor=other, ip_address="203.0.113.99")
    body = signed_in.get(reverse("account_activity")).content.decode()
    assert body.index("<td>Password changed</td>") < body.index("<td>Signed in</td>")
    assert "198.51.100.9" in body
    assert "203.0.113.99" not in body


def test_activity_is_paginated(signed_in, user):
    for _ in range(ACTIVITY_PAGE_SIZE + 3):
        audit_record(action=Action.PROFILE_UPDATED, actor=user)
    first = signed_in.get(reverse("account_activity")).content.decode()
    second = signed_in.get(reverse("account_activity"), {"page": 2}).content.decode()
    assert first.count("Profile updated") == ACTIVITY_PAGE_SIZE
    assert second.count("Profile updated") == 3 + 0  # the sign-in event is on page 1
    assert signed_in.get(reverse("account_activity"), {"page": "x"}).status_code == 200


# ---------------------------------------------------------------- sessions


def test_sessions_page_offers_sign_out_per_other_session(signed_in, user):
    sign_in(Client(), user)
    other = UserSession.objects.exclude(session_key=signed_in.session.session_key).get()
    body = signed_in.get(reverse("usersessions_list")).content.decode()
    assert reverse("account_session_end", kwargs={"session_id": other.pk}) in body
    assert "This browser" in body


def test_ending_a_session_signs_that_browser_out(signed_in, user):
    elsewhere = Client()
    sign_in(elsewhere, user)
    other = UserSession.objects.exclude(session_key=signed_in.session.session_key).get()
    signed_in.post(reverse("account_session_end", kwargs={"session_id": other.pk}))
    assert elsewhere.get(reverse("dashboard")).status_code == 302
    assert signed_in.get(reverse("dashboard")).status_code == 200


def test_cannot_end_someone_elses_session(signed_in):
    stranger = UserFactory()
    sign_in(Client(), stranger)
    theirs = UserSession.objects.get(user=stranger)
    response = signed_in.post(reverse("account_session_end", kwargs={"session_id": theirs.pk}))
    assert response.status_code == 404
    assert UserSession.objects.filter(pk=theirs.pk).exists()


def test_ending_the_current_session_from_the_list_is_refused(signed_in):
    mine = UserSession.objects.get(session_key=signed_in.session.session_key)
    signed_in.post(reverse("account_session_end", kwargs={"session_id": mine.pk}))
    assert UserSession.objects.filter(pk=mine.pk).exists()
    assert signed_in.get(reverse("dashboard")).status_code == 200


# ---------------------------------------------------------------- password


def test_password_change_needs_the_current_password(signed_in, user):
    response = signed_in.post(
        reverse("account_change_password"),
        {
            "oldpassword": "not my password 123",
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
        },
    )
    assert response.status_code == 200
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)


def test_password_change_sends_a_notice(signed_in, user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        signed_in.post(
            reverse("account_change_password"),
            {
                "oldpassword": DEFAULT_PASSWORD,
                "password1": NEW_PASSWORD,
                "password2": NEW_PASSWORD,
            },
        )
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert [m.to for m in mail.outbox] == [[user.email]]
    assert "password" in mail.outbox[0].subject.lower()


def test_password_reset_answers_the_same_for_known_and_unknown_addresses(
    client, user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        known = client.post(reverse("account_reset_password"), {"email": user.email})
        unknown = client.post(reverse("account_reset_password"), {"email": "ghost@example.com"})
    assert known.status_code == unknown.status_code == 302
    assert known["Location"] == unknown["Location"]
    done_known = _without_csrf(client.get(known["Location"]).content.decode())
    done_unknown = _without_csrf(client.get(unknown["Location"]).content.decode())
    assert done_known == done_unknown
    reset_mail = [m for m in mail.outbox if m.to == [user.email]]
    assert len(reset_mail) == 1 and "/accounts/password/reset/key/" in reset_mail[0].body


def _without_csrf(body: str) -> str:
    # The CSRF token is masked afresh on every response; nothing else may differ.
    return re.sub(
        r'(name="csrf(?:-token|middlewaretoken)"[^>]*(?:content|value)=")[^"]+', r"\1", body
    )


# ---------------------------------------------------------------- rate limits


@override_settings(ACCOUNT_RATE_LIMITS=LOGIN_LIMITS)
def test_sixth_failed_login_for_one_account_is_throttled_but_another_account_is_not(client):
    target, bystander = UserFactory(), UserFactory()
    for _ in range(5):
        response = client.post(
            reverse("account_login"), {"login": target.email, "password": "wrong guess 123456"}
        )
        assert "Too many failed login attempts" not in response.content.decode()
    sixth = client.post(
        reverse("account_login"), {"login": target.email, "password": DEFAULT_PASSWORD}
    )
    assert sixth.status_code in (200, 429)
    assert "Too many failed login attempts" in sixth.content.decode()
    assert "_auth_user_id" not in client.session
    other = client.post(
        reverse("account_login"), {"login": bystander.email, "password": DEFAULT_PASSWORD}
    )
    assert other.status_code == 302
    assert client.session["_auth_user_id"] == str(bystander.pk)


# ---------------------------------------------------------------- email change


def test_email_change_needs_reauthentication(client, user):
    client.force_login(user)
    response = client.post(reverse("account_email"), {"email": "new@example.com", "action_add": ""})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_reauthenticate"))
    assert not EmailAddress.objects.filter(email="new@example.com").exists()


def test_new_email_takes_effect_only_once_verified(
    signed_in, user, django_capture_on_commit_callbacks
):
    signed_in.post(reverse("account_reauthenticate"), {"password": DEFAULT_PASSWORD})
    old = user.email
    with django_capture_on_commit_callbacks(execute=True):
        signed_in.post(reverse("account_email"), {"email": "new@example.com", "action_add": ""})
    user.refresh_from_db()
    assert user.email == old
    assert not EmailAddress.objects.get(email="new@example.com").verified
    assert "new@example.com" in signed_in.get(reverse("account_email")).content.decode()

    link = re.search(r"http://testserver(/accounts/confirm-email/\S+/)", mail.outbox[-1].body)
    assert mail.outbox[-1].to == ["new@example.com"]
    signed_in.post(link.group(1))
    user.refresh_from_db()
    assert user.email == "new@example.com"
    assert list(EmailAddress.objects.filter(user=user).values_list("email", flat=True)) == [
        "new@example.com"
    ]


# ---------------------------------------------------------------- MFA


def test_mfa_setup_needs_reauthentication(client, user):
    client.force_login(user)
    response = client.get(reverse("mfa_activate_totp"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_reauthenticate"))


def test_totp_setup_page_shows_a_data_uri_qr_code_and_the_key(signed_in):
    signed_in.post(reverse("account_reauthenticate"), {"password": DEFAULT_PASSWORD})
    response = signed_in.get(reverse("mfa_activate_totp"))
    body = response.content.decode()
    assert re.search(r'<img class="qr-code" src="data:image/svg\+xml;base64,', body)
    assert signed_in.session[SECRET_SESSION_KEY] in body
    assert 'data-copy-target="totp-secret"' in body


@pytest.mark.django_db(transaction=True)
def test_totp_activation_sends_a_notice_and_login_then_asks_for_a_code(client, user):
    sign_in(client, user)
    client.post(reverse("account_reauthenticate"), {"password": DEFAULT_PASSWORD})
    client.get(reverse("mfa_activate_totp"))
    secret = client.session[SECRET_SESSION_KEY]
    code = format_hotp_value(hotp_value(secret, int(time.time()) // 30))
    assert client.post(reverse("mfa_activate_totp"), {"code": code}).status_code == 302
    notices = [m for m in mail.outbox if m.to == [user.email]]
    assert len(notices) == 1
    assert "authenticator" in notices[0].subject.lower()

    fresh = Client()
    response = fresh.post(
        reverse("account_login"), {"login": user.email, "password": DEFAULT_PASSWORD}
    )
    assert response["Location"] == reverse("mfa_authenticate")
    assert fresh.get(reverse("dashboard")).status_code == 302


def _assert_csp_clean(body: str, where: str) -> None:
    assert " style=" not in body and "<style" not in body, where
    for tag in re.findall(r"<script[^>]*>", body):
        assert "src=" in tag or 'type="application/json"' in tag, (where, tag)


@pytest.mark.parametrize(
    "name",
    [
        "account_login",
        "account_signup",
        "account_reset_password",
        "account_email_verification_sent",
    ],
)
def test_signed_out_allauth_pages_use_our_layout_without_inline_code(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 200
    body = response.content.decode()
    assert 'href="/static/css/app.css"' in body
    _assert_csp_clean(body, name)


def test_signed_in_allauth_pages_use_our_layout_without_inline_code(signed_in, user):
    signed_in.post(reverse("account_reauthenticate"), {"password": DEFAULT_PASSWORD})
    for name in (
        "account_email",
        "account_change_password",
        "account_logout",
        "account_reauthenticate",
        "mfa_index",
        "mfa_activate_totp",
        "usersessions_list",
    ):
        response = signed_in.get(reverse(name))
        assert response.status_code == 200, name
        body = response.content.decode()
        assert 'class="tabs"' in body or 'class="card auth-card"' in body, name
        _assert_csp_clean(body, name)


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("New@\uff45xample.COM", "new@example.com"), ("new@xn--bcher-kva.de", "new@b\u00fccher.de")],
)
def test_a_new_email_address_is_stored_in_its_one_spelling(
    signed_in, user, django_capture_on_commit_callbacks, typed, stored
):
    signed_in.post(reverse("account_reauthenticate"), {"password": DEFAULT_PASSWORD})
    with django_capture_on_commit_callbacks(execute=True):
        signed_in.post(reverse("account_email"), {"email": typed, "action_add": ""})
    assert EmailAddress.objects.filter(user=user, email=stored, verified=False).exists()
    assert mail.outbox[-1].to == [stored]


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ('"new"@example.com', "quotation marks"),
        ("new@ex\u0430mple.com", "mixes letters from different alphabets"),
    ],
)
def test_changing_to_a_quoted_or_mixed_script_address_is_refused(
    signed_in, user, django_capture_on_commit_callbacks, typed, message
):
    signed_in.post(reverse("account_reauthenticate"), {"password": DEFAULT_PASSWORD})
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = signed_in.post(reverse("account_email"), {"email": typed, "action_add": ""})
    assert message in response.context["form"].errors["email"][0]
    assert list(EmailAddress.objects.filter(user=user).values_list("email", flat=True)) == [
        user.email
    ]
    assert callbacks == []
