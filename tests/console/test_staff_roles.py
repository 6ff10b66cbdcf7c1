"""Each staff role does its whole job through the admin, signed in with MFA, and
reaches nothing else: other roles' pages, configuration and staff accounts answer 403."""

import uuid

import pytest
from allauth.account.models import EmailAddress
from allauth.usersessions.models import UserSession
from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.contrib.sessions.models import Session
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.audit import Action
from accounts.models import AuditEvent, User
from apikeys.keys.models import ApiKey
from apikeys.keys.services import api_key_create
from apikeys.usage.services import usage_rollup_day
from privacy.consent.services import consent_record
from privacy.deletion.services import account_deletion_request
from privacy.policies.models import PolicyVersion
from privacy.requests.deadlines import Jurisdiction
from privacy.requests.models import PrivacyRequest, RequestStatus, RequestType
from privacy.requests.services import privacy_request_confirm, privacy_request_submit_public
from privacy.retention.services import retention_run
from tests.factories import DEFAULT_PASSWORD, UserFactory, WorkspaceFactory, usage_rows_load
from tests.support import admin_client_with_mfa, staff_member, staff_role

pytestmark = pytest.mark.django_db

ROLE_PERMISSIONS = {
    "Support": {
        "accounts.view_user",
        "accounts.change_user",
        "accounts.view_workspace",
        "accounts.view_membership",
        "accounts.view_invitation",
        "accounts.change_invitation",
        "account.view_emailaddress",
        "apikeys.view_apikey",
        "apikeys.view_usagerecord",
        "apikeys.view_usagedailyrollup",
        # The support queue (support/migrations/0002_support_group_permissions.py).
        "support.view_supportrequest",
        "support.change_supportrequest",
        "support.view_supportmessage",
        "support.view_supportattachment",
    },
    "Privacy": {
        "privacy.view_privacyrequest",
        "privacy.change_privacyrequest",
        "privacy.view_deletionrequest",
        "privacy.view_retentionrun",
        "privacy.view_consentrecord",
        "privacy.view_policyversion",
        "privacy.add_policyversion",
        "privacy.change_policyversion",
        "privacy.view_policynotice",
        "privacy.view_policyacceptance",
        # The processor registry and overrides (privacy/migrations/0013_processor_permissions.py).
        "privacy.view_processor",
        "privacy.add_processor",
        "privacy.change_processor",
        "privacy.view_processoraction",
        "privacy.change_processoraction",
    },
    "Security": {
        "accounts.view_auditevent",
        "accounts.view_user",
        "accounts.end_sessions",
        "accounts.remove_mfa",
        "usersessions.view_usersession",
        "apikeys.view_apikey",
        "apikeys.change_apikey",
    },
}

# Pages by the role whose job they are; every other role gets 403 on them.
ROLE_PAGES = {
    "Support": [
        "admin:accounts_user_changelist",
        "admin:accounts_workspace_changelist",
        "admin:accounts_membership_changelist",
        "admin:accounts_invitation_changelist",
        "admin:account_emailaddress_changelist",
        "admin:apikeys_usagerecord_changelist",
        "admin:apikeys_usagedailyrollup_changelist",
        "admin:support_supportrequest_changelist",
    ],
    "Privacy": [
        "admin:privacy_privacyrequest_changelist",
        "admin:privacy_deletionrequest_changelist",
        "admin:privacy_retentionrun_changelist",
        "admin:privacy_retention_overview",
        "admin:privacy_consentrecord_changelist",
        "admin:privacy_policyversion_changelist",
        "admin:privacy_policyversion_add",
        "admin:privacy_policynotice_changelist",
        "admin:privacy_policyacceptance_changelist",
        "admin:privacy_processor_changelist",
        "admin:privacy_processor_add",
        "admin:privacy_processoraction_changelist",
    ],
    "Security": [
        "admin:accounts_auditevent_changelist",
        "admin:usersessions_usersession_changelist",
        "admin:apikeys_apikey_report_leak",
    ],
}
SHARED_PAGES = {
    "admin:accounts_user_changelist": {"Support", "Security"},
    "admin:apikeys_apikey_changelist": {"Support", "Security"},
}
# Configuration: superusers only, whatever role.
SUPERUSER_PAGES = [
    "admin:auth_group_changelist",
    "admin:django_celery_beat_periodictask_changelist",
    "admin:django_celery_beat_crontabschedule_changelist",
    "admin:django_celery_beat_intervalschedule_changelist",
    "admin:django_celery_beat_clockedschedule_changelist",
    "admin:django_celery_beat_solarschedule_changelist",
    "admin:accounts_outboundemail_changelist",
]
# Pages that would add or change rows past the product's flows: nobody, superusers
# included.
NOBODY_PAGES = [
    "admin:auth_group_add",
    "admin:accounts_user_add",
    "admin:accounts_workspace_add",
    "admin:accounts_auditevent_add",
    "admin:account_emailaddress_add",
    "admin:usersessions_usersession_add",
    "admin:apikeys_apikey_add",
    "admin:apikeys_usagerecord_add",
    "admin:privacy_privacyrequest_add",
    "admin:privacy_deletionrequest_add",
    "admin:privacy_retentionrun_add",
    "admin:privacy_consentrecord_add",
    "admin:privacy_processoraction_add",
    "admin:support_supportrequest_add",
]


@pytest.fixture(autouse=True)
def _roles(db):
    for role in ROLE_PERMISSIONS:
        staff_role(role)


def _member(role: str) -> User:
    return staff_member(role)


def _pages_outside(role: str) -> list[str]:
    own = set(ROLE_PAGES[role]) | {p for p, roles in SHARED_PAGES.items() if role in roles}
    others = {page for pages in ROLE_PAGES.values() for page in pages} | set(SHARED_PAGES)
    return sorted(others - own) + SUPERUSER_PAGES + NOBODY_PAGES


def _action(client: Client, changelist: str, action: str, pks) -> None:
    response = client.post(
        reverse(changelist), {"action": action, "_selected_action": [str(pk) for pk in pks]}
    )
    assert response.status_code == 302


def _messages(client: Client, url: str) -> str:
    return client.get(url).content.decode()


@pytest.fixture
def customer(db):
    return UserFactory(email="customer@example.com")


@pytest.fixture
def customer_workspace(customer):
    return WorkspaceFactory(owner=customer, name="Customer Space")


@pytest.fixture
def customer_key(customer, customer_workspace):
    return api_key_create(
        workspace=customer_workspace,
        actor=customer,
        name="Production backend",
        environment="production",
        scopes=["inference"],
    )


def _signed_in_browser(user: User) -> Client:
    browser = Client()
    response = browser.post(
        reverse("account_login"), {"login": user.email, "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 302
    return browser


# ---------------------------------------------------------------------------- the roles


def test_each_role_holds_exactly_the_permissions_its_job_needs():
    # Apps added later grant their own models' permissions to the roles; these are the
    # apps whose permissions this list covers.
    covered = {label.split(".")[0] for perms in ROLE_PERMISSIONS.values() for label in perms}
    covered |= {"auth", "contenttypes", "sessions", "mfa", "django_celery_beat"}
    for role, expected in ROLE_PERMISSIONS.items():
        held = {
            f"{app}.{codename}"
            for app, codename in Group.objects.get(name=role).permissions.values_list(
                "content_type__app_label", "codename"
            )
            if app in covered
        }
        assert held == expected, role


def test_no_role_holds_a_permission_that_edits_roles_or_configuration():
    risky = Permission.objects.filter(
        content_type__app_label__in=["auth", "django_celery_beat", "mfa", "sessions"]
    )
    assert not Group.objects.filter(permissions__in=risky).exists()


@pytest.mark.parametrize("role", sorted(ROLE_PAGES))
def test_a_role_reaches_its_own_pages(role):
    client = admin_client_with_mfa(_member(role))
    for page in ROLE_PAGES[role]:
        assert client.get(reverse(page)).status_code == 200, page


@pytest.mark.parametrize("role", sorted(ROLE_PAGES))
def test_a_role_gets_403_outside_its_job(role):
    client = admin_client_with_mfa(_member(role))
    for page in _pages_outside(role):
        assert client.get(reverse(page)).status_code == 403, page


def test_superuser_reaches_configuration_but_not_the_pages_that_bypass_the_product():
    client = admin_client_with_mfa(UserFactory(is_staff=True, is_superuser=True))
    for page in SUPERUSER_PAGES:
        assert client.get(reverse(page)).status_code == 200, page
    for page in NOBODY_PAGES:
        assert client.get(reverse(page)).status_code == 403, page


def test_roles_are_read_only_in_the_admin_even_for_superusers():
    client = admin_client_with_mfa(UserFactory(is_staff=True, is_superuser=True))
    support = Group.objects.get(name="Support")
    change = reverse("admin:auth_group_change", args=[support.pk])
    page = client.get(change)
    assert page.status_code == 200 and b'name="_save"' not in page.content
    before = set(support.permissions.values_list("pk", flat=True))
    everything = list(Permission.objects.values_list("pk", flat=True))
    assert client.post(change, {"name": "Support", "permissions": everything}).status_code == 403
    delete = reverse("admin:auth_group_delete", args=[support.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert set(support.permissions.values_list("pk", flat=True)) == before


def test_staff_given_group_permissions_directly_still_cannot_edit_roles():
    staff = _member("Support")
    staff.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="auth", codename__endswith="_group")
    )
    client = admin_client_with_mfa(staff)
    assert client.get(reverse("admin:auth_group_changelist")).status_code == 403
    support = Group.objects.get(name="Support")
    response = client.post(
        reverse("admin:auth_group_change", args=[support.pk]),
        {"name": "Support", "permissions": list(Permission.objects.values_list("pk", flat=True))},
    )
    assert response.status_code == 403
    assert not support.permissions.filter(content_type__app_label="auth").exists()


def test_authenticators_are_not_in_the_admin_and_raw_pages_are_read_only():
    registry = {model._meta.label for model in admin.site._registry}
    assert "mfa.Authenticator" not in registry
    assert "socialaccount.SocialAccount" not in registry
    superuser = UserFactory(is_staff=True, is_superuser=True)
    client = admin_client_with_mfa(superuser)
    assert client.get("/admin/mfa/authenticator/").status_code == 404
    address = EmailAddress.objects.get(user=superuser)
    url = reverse("admin:account_emailaddress_change", args=[address.pk])
    page = client.get(url)
    assert page.status_code == 200 and b'name="_save"' not in page.content
    response = client.post(url, {"user": superuser.pk, "email": "x@example.net", "verified": "on"})
    assert response.status_code == 403
    listing = client.get(reverse("admin:account_emailaddress_changelist"))
    assert b"make_verified" not in listing.content
    session = UserSession.objects.get(user=superuser)
    page = client.get(reverse("admin:usersessions_usersession_change", args=[session.pk]))
    assert page.status_code == 200
    assert session.session_key.encode() not in page.content
    delete = reverse("admin:usersessions_usersession_delete", args=[session.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403


# ---------------------------------------------------------------------------- Support


def test_support_finds_a_customer_views_workspace_keys_and_usage_and_deactivates_them(
    customer, customer_workspace, customer_key
):
    api_key, full_key = customer_key
    usage_rows_load(customer_workspace, api_key, 3)
    usage_rollup_day(day=(timezone.now() - timezone.timedelta(days=1)).date())
    support = _member("Support")
    client = admin_client_with_mfa(support)
    customer_browser = _signed_in_browser(customer)

    found = client.get(reverse("admin:accounts_user_changelist"), {"q": "customer@"})
    assert [u.pk for u in found.context["cl"].result_list] == [customer.pk]
    detail = client.get(reverse("admin:accounts_user_change", args=[customer.pk]))
    assert detail.status_code == 200 and b'name="_save"' not in detail.content
    assert b"end_sessions" not in found.content  # Security's action, not Support's

    workspace = client.get(reverse("admin:accounts_workspace_change", args=[customer_workspace.pk]))
    assert b"customer@example.com" in workspace.content

    keys = client.get(reverse("admin:apikeys_apikey_changelist"), {"q": full_key[:24]})
    assert [k.pk for k in keys.context["cl"].result_list] == [api_key.pk]
    assert b"revoke_keys" not in keys.content and b"report-leak" not in keys.content
    key_page = client.get(reverse("admin:apikeys_apikey_change", args=[api_key.pk]))
    assert b"Production backend" in key_page.content
    assert api_key.secret_hash.encode() not in key_page.content
    assert full_key.encode() not in key_page.content
    assert b'name="_save"' not in key_page.content

    usage = client.get(reverse("admin:apikeys_usagerecord_changelist"))
    assert usage.context["cl"].result_count == 3
    rollups = client.get(reverse("admin:apikeys_usagedailyrollup_changelist"))
    assert rollups.context["cl"].result_count >= 1

    _action(client, "admin:accounts_user_changelist", "deactivate_users", [customer.pk])
    customer.refresh_from_db()
    assert customer.is_active is False
    event = AuditEvent.objects.get(action=Action.USER_DEACTIVATED, subject_user_id=customer.pk)
    assert event.actor_id == support.pk
    assert customer_browser.get("/account/profile/").status_code == 302


def test_support_can_neither_revoke_keys_nor_change_staff(customer_key):
    api_key, _ = customer_key
    client = admin_client_with_mfa(_member("Support"))
    client.post(
        reverse("admin:apikeys_apikey_changelist"),
        {"action": "revoke_keys", "_selected_action": [str(api_key.pk)]},
    )
    assert ApiKey.objects.get(pk=api_key.pk).revoked_at is None
    colleague = _member("Privacy")
    admin_user = UserFactory(is_staff=True, is_superuser=True)
    _action(
        client, "admin:accounts_user_changelist", "deactivate_users", [colleague.pk, admin_user.pk]
    )
    assert User.objects.filter(pk__in=[colleague.pk, admin_user.pk], is_active=True).count() == 2
    change = reverse("admin:accounts_user_change", args=[colleague.pk])
    assert client.post(change, {"email": colleague.email, "is_superuser": "on"}).status_code == 403
    colleague.refresh_from_db()
    assert colleague.is_superuser is False
    report = reverse("admin:apikeys_apikey_report_leak")
    assert client.post(report, {"key": "cnsl_anything"}).status_code == 403


# ---------------------------------------------------------------------------- Privacy


def _confirmed_request(request_type=RequestType.CORRECTION) -> PrivacyRequest:
    _, token = privacy_request_submit_public(
        email="requester@example.com",
        name="Re Quester",
        request_type=request_type,
        jurisdiction=Jurisdiction.EEA_UK,
    )
    return privacy_request_confirm(token=token)


def test_privacy_works_a_request_through_its_states_and_reads_the_privacy_records(
    customer, django_capture_on_commit_callbacks
):
    privacy = _member("Privacy")
    client = admin_client_with_mfa(privacy)
    request = _confirmed_request()

    queue = client.get(reverse("admin:privacy_privacyrequest_changelist"))
    assert [r.pk for r in queue.context["cl"].result_list] == [request.pk]
    detail = client.get(reverse("admin:privacy_privacyrequest_change", args=[request.pk]))
    assert b"Verify identity" in detail.content and b'name="_save"' not in detail.content

    def act(action, data=None):
        url = reverse("admin:privacy_privacyrequest_act", args=[request.pk, action])
        assert client.post(url, data or {}).status_code == 302

    with django_capture_on_commit_callbacks(execute=True):
        act("verify")
        act("start")
        act("note", {"text": "Checked the account records."})
        act("extend", {"reason": "Several systems to search."})
        act("complete", {"resolution": "Corrected."})
    request.refresh_from_db()
    assert request.status == RequestStatus.COMPLETED
    actors = set(
        AuditEvent.objects.filter(target_id=str(request.pk))
        .exclude(action="privacy_request.received")
        .values_list("actor_id", flat=True)
    )
    assert privacy.pk in actors
    assert any("requester@example.com" in m.to for m in mail.outbox)
    # The detail page never saves the request itself.
    change = reverse("admin:privacy_privacyrequest_change", args=[request.pk])
    assert client.post(change, {"status": RequestStatus.REJECTED}).status_code == 403

    deletion = account_deletion_request(user=customer, send_receipt=False)
    ledger = client.get(reverse("admin:privacy_deletionrequest_changelist"))
    assert [d.pk for d in ledger.context["cl"].result_list] == [deletion.pk]
    run = retention_run()
    runs = client.get(reverse("admin:privacy_retentionrun_changelist"))
    assert run.pk in [r.pk for r in runs.context["cl"].result_list]
    assert client.get(reverse("admin:privacy_retention_overview")).status_code == 200

    visitor = uuid.uuid4()
    consent_record(
        visitor_id=visitor, preferences=True, analytics=False, marketing=False, method="button"
    )
    consents = client.get(reverse("admin:privacy_consentrecord_changelist"), {"q": str(visitor)})
    assert consents.context["cl"].result_count == 1

    added = client.post(
        reverse("admin:privacy_policyversion_add"),
        {
            "kind": "cookie",
            "version": "roles-1",
            "title": "Cookie policy",
            "body_markdown": "What we store.",
            "summary_of_changes": "",
            "effective_at_0": (timezone.localdate() + timezone.timedelta(days=2)).isoformat(),
            "effective_at_1": "00:00:00",
        },
    )
    assert added.status_code == 302
    draft = PolicyVersion.objects.get(kind="cookie", version="roles-1")
    with django_capture_on_commit_callbacks(execute=True):
        _action(client, "admin:privacy_policyversion_changelist", "publish", [draft.pk])
    draft.refresh_from_db()
    assert draft.published_at is not None
    assert AuditEvent.objects.filter(target_id=str(draft.pk), actor_id=privacy.pk).exists()


def test_privacy_cannot_deactivate_accounts_or_revoke_keys(customer, customer_key):
    api_key, _ = customer_key
    client = admin_client_with_mfa(_member("Privacy"))
    client.post(
        reverse("admin:accounts_user_changelist"),
        {"action": "deactivate_users", "_selected_action": [str(customer.pk)]},
    )
    client.post(
        reverse("admin:apikeys_apikey_changelist"),
        {"action": "revoke_keys", "_selected_action": [str(api_key.pk)]},
    )
    customer.refresh_from_db()
    assert customer.is_active is True
    assert ApiKey.objects.get(pk=api_key.pk).revoked_at is None


def test_a_role_without_the_change_permission_sees_policies_but_cannot_publish():
    viewer = UserFactory(is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_policyversion"))
    client = admin_client_with_mfa(viewer)
    draft = PolicyVersion.objects.create(
        kind="cookie",
        version="view-only",
        title="Cookie policy",
        body_markdown="Text.",
        effective_at=timezone.now(),
    )
    listing = client.get(reverse("admin:privacy_policyversion_changelist"))
    assert listing.status_code == 200 and b'value="publish"' not in listing.content
    client.post(
        reverse("admin:privacy_policyversion_changelist"),
        {"action": "publish", "_selected_action": [str(draft.pk)]},
    )
    draft.refresh_from_db()
    assert draft.published_at is None


# ---------------------------------------------------------------------------- Security


def test_security_reads_the_audit_log_handles_a_leak_revokes_a_key_and_ends_sessions(
    customer, customer_workspace, customer_key, django_capture_on_commit_callbacks
):
    leaked, leaked_full = customer_key
    other, _ = api_key_create(
        workspace=customer_workspace,
        actor=customer,
        name="Staging",
        environment="development",
        scopes=["inference"],
    )
    security = _member("Security")
    client = admin_client_with_mfa(security)
    first_browser = _signed_in_browser(customer)
    second_browser = _signed_in_browser(customer)
    assert UserSession.objects.filter(user=customer).count() == 2

    log = client.get(
        reverse("admin:accounts_auditevent_changelist"), {"action__exact": Action.LOGIN}
    )
    assert customer.pk in {e.subject_user_id for e in log.context["cl"].result_list}

    # A report that arrived by email: paste the key, the service revokes and tells owners.
    report = reverse("admin:apikeys_apikey_report_leak")
    form = client.get(report)
    assert form.status_code == 200
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(report, {"key": leaked_full, "source": "a public repository"})
    assert response.status_code == 302
    leaked.refresh_from_db()
    assert leaked.revoked_reason == "leaked"
    event = AuditEvent.objects.get(action=Action.API_KEY_LEAK_REPORTED, target_id=leaked.public_id)
    assert event.actor_id == security.pk and event.metadata["by_staff"] is True
    assert leaked_full not in str(event.metadata)
    assert [m.to for m in mail.outbox] == [[customer.email]]
    page = _messages(client, reverse("admin:apikeys_apikey_change", args=[leaked.pk]))
    assert "its owners were emailed" in page
    # The same report again changes nothing and says so.
    client.post(report, {"key": leaked_full, "source": "again"})
    assert "No active key matches" in _messages(client, reverse("admin:apikeys_apikey_changelist"))
    assert AuditEvent.objects.filter(action=Action.API_KEY_LEAK_REPORTED).count() == 1
    leaked_list = client.get(
        reverse("admin:apikeys_apikey_changelist"), {"revoked_reason": "leaked"}
    )
    assert [k.pk for k in leaked_list.context["cl"].result_list] == [leaked.pk]

    _action(client, "admin:apikeys_apikey_changelist", "revoke_keys", [other.pk])
    other.refresh_from_db()
    assert other.revoked_reason == "revoked_by_staff"
    assert AuditEvent.objects.filter(
        action=Action.API_KEY_REVOKED, target_id=other.public_id, actor_id=security.pk
    ).exists()

    sessions = client.get(reverse("admin:usersessions_usersession_changelist"), {"q": "customer@"})
    assert sessions.context["cl"].result_count == 2
    session_keys = list(
        UserSession.objects.filter(user=customer).values_list("session_key", flat=True)
    )
    _action(client, "admin:accounts_user_changelist", "end_sessions", [customer.pk])
    assert not UserSession.objects.filter(user=customer).exists()
    assert not Session.objects.filter(session_key__in=session_keys).exists()
    for browser in (first_browser, second_browser):
        assert browser.get("/account/profile/").status_code == 302
    customer.refresh_from_db()
    assert customer.is_active is True
    ended = AuditEvent.objects.get(action=Action.SESSIONS_ENDED_BY_STAFF)
    assert (ended.actor_id, ended.subject_user_id) == (security.pk, customer.pk)
    assert ended.metadata == {"sessions": 2, "by_staff": True}


def test_security_cannot_end_staff_sessions_or_deactivate_accounts(customer):
    client = admin_client_with_mfa(_member("Security"))
    colleague = _member("Support")
    _signed_in_browser(colleague)
    _action(client, "admin:accounts_user_changelist", "end_sessions", [colleague.pk])
    assert UserSession.objects.filter(user=colleague).exists()
    assert not AuditEvent.objects.filter(action=Action.SESSIONS_ENDED_BY_STAFF).exists()
    client.post(
        reverse("admin:accounts_user_changelist"),
        {"action": "deactivate_users", "_selected_action": [str(customer.pk)]},
    )
    customer.refresh_from_db()
    assert customer.is_active is True


# ---------------------------------------------------------------------------- superusers


def test_a_superuser_gives_and_takes_staff_roles_in_the_admin(customer):
    superuser = UserFactory(is_staff=True, is_superuser=True)
    client = admin_client_with_mfa(superuser)
    changelist = reverse("admin:accounts_user_changelist")
    ask = client.post(
        changelist, {"action": "set_staff_roles", "_selected_action": [str(customer.pk)]}
    )
    assert ask.status_code == 200 and b'value="Security"' in ask.content
    done = client.post(
        changelist,
        {
            "action": "set_staff_roles",
            "_selected_action": [str(customer.pk)],
            "roles": ["Security"],
            "apply": "Set roles",
        },
    )
    assert done.status_code == 302
    customer.refresh_from_db()
    assert customer.is_staff is True
    assert list(customer.groups.values_list("name", flat=True)) == ["Security"]
    assert AuditEvent.objects.filter(
        action=Action.STAFF_ROLES_CHANGED, subject_user_id=customer.pk, actor_id=superuser.pk
    ).exists()
    # The new member reaches Security's pages only.
    member = admin_client_with_mfa(customer)
    assert member.get(reverse("admin:accounts_auditevent_changelist")).status_code == 200
    assert member.get(reverse("admin:privacy_privacyrequest_changelist")).status_code == 403


def test_staff_cannot_give_themselves_or_others_roles():
    support = _member("Support")
    other = UserFactory()
    client = admin_client_with_mfa(support)
    listing = client.get(reverse("admin:accounts_user_changelist"))
    assert b"set_staff_roles" not in listing.content
    client.post(
        reverse("admin:accounts_user_changelist"),
        {
            "action": "set_staff_roles",
            "_selected_action": [str(support.pk), str(other.pk)],
            "roles": ["Support", "Privacy", "Security"],
            "apply": "Set roles",
        },
    )
    assert list(support.groups.values_list("name", flat=True)) == ["Support"]
    assert not other.groups.exists()
    assert not AuditEvent.objects.filter(action=Action.STAFF_ROLES_CHANGED).exists()


@pytest.mark.parametrize(
    "data",
    [
        {"key": "cnsl_prod_\x00abc"},
        {"key": "x" * 10_000},
        {"key": ""},
        {"key": "   "},
        {"key": "cnsl_prod_abc", "source": "y" * 1_000},
    ],
)
def test_a_malformed_leak_report_is_refused_on_the_form_and_changes_nothing(data, customer_key):
    api_key, _ = customer_key
    client = admin_client_with_mfa(_member("Security"))
    response = client.post(reverse("admin:apikeys_apikey_report_leak"), data)
    assert response.status_code == 200
    assert response.context["form"].errors
    assert ApiKey.objects.get(pk=api_key.pk).revoked_at is None
    assert not AuditEvent.objects.filter(action=Action.API_KEY_LEAK_REPORTED).exists()


def test_the_source_of_a_leak_report_reaches_the_owners_on_one_line(
    customer_key, django_capture_on_commit_callbacks
):
    api_key, full_key = customer_key
    client = admin_client_with_mfa(_member("Security"))
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("admin:apikeys_apikey_report_leak"),
            {"key": full_key, "source": "a paste site\r\nBcc: attacker@example.net"},
        )
    event = AuditEvent.objects.get(action=Action.API_KEY_LEAK_REPORTED)
    assert event.metadata["source"] == "a paste site Bcc: attacker@example.net"
    [message] = mail.outbox
    assert message.recipients() == [api_key.workspace.memberships.get().user.email]


def test_an_unknown_role_is_refused_and_nothing_changes(customer):
    client = admin_client_with_mfa(UserFactory(is_staff=True, is_superuser=True))
    response = client.post(
        reverse("admin:accounts_user_changelist"),
        {
            "action": "set_staff_roles",
            "_selected_action": [str(customer.pk)],
            "roles": ["Owner"],
            "apply": "Set roles",
        },
    )
    assert response.status_code == 200 and response.context["form"].errors
    customer.refresh_from_db()
    assert customer.is_staff is False and not customer.groups.exists()
