import csv
import io
import uuid

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.audit import Action
from accounts.models import AuditEvent, Invitation, Membership, Workspace
from accounts.permissions import Role
from accounts.services import invitation_create
from tests.factories import UserFactory, WorkspaceFactory, add_member

pytestmark = pytest.mark.django_db


def _url(name, workspace, **kwargs):
    return reverse(name, kwargs={"workspace_id": workspace.pk, **kwargs})


@pytest.fixture
def owner_client(client, user):
    client.force_login(user)
    return client


# ---------------------------------------------------------------------------- list, create


def test_list_shows_my_workspaces_with_role_and_not_others(owner_client, workspace):
    WorkspaceFactory(name="Someone else's")
    response = owner_client.get(reverse("workspace_list"))
    assert response.status_code == 200
    body = response.content.decode()
    assert workspace.name in body and "Owner" in body
    assert "Someone else" not in body


def test_list_requires_sign_in(client):
    response = client.get(reverse("workspace_list"))
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_list_offers_pending_invitations_for_my_verified_address(client, workspace, user):
    invitee = UserFactory()
    invitation, _ = invitation_create(
        workspace=workspace, actor=user, email=invitee.email, role=Role.VIEWER
    )
    client.force_login(invitee)
    body = client.get(reverse("workspace_list")).content.decode()
    assert reverse("invitation_accept_by_id", kwargs={"invitation_id": invitation.pk}) in body


def test_create_makes_the_user_owner_and_redirects(owner_client, user):
    response = owner_client.post(reverse("workspace_create"), {"name": "  Research  "})
    workspace = Workspace.objects.get(name="Research")
    assert response.status_code == 302
    assert response["Location"] == _url("workspace_detail", workspace)
    assert Membership.objects.get(workspace=workspace, user=user).role == Role.OWNER


def test_create_with_blank_name_shows_form_error_and_creates_nothing(owner_client):
    before = Workspace.objects.count()
    response = owner_client.post(reverse("workspace_create"), {"name": "   "})
    assert response.status_code == 400
    assert response.context["form"].errors["name"]
    assert Workspace.objects.count() == before


@pytest.mark.parametrize("name", ["a\x07b", "a\tb", "a\nb", "a \u202eb", "a \u2067b\u2069"])
def test_create_with_control_or_direction_characters_is_refused(owner_client, name):
    before = Workspace.objects.count()
    response = owner_client.post(reverse("workspace_create"), {"name": name})
    assert response.status_code == 400
    assert "text-direction marks" in response.context["form"].errors["name"][0]
    assert Workspace.objects.count() == before


def test_rename_to_a_name_with_a_direction_override_is_refused(owner_client, workspace):
    old = workspace.name
    response = owner_client.post(
        _url("workspace_settings", workspace), {"form": "rename", "name": "Evil \u202eexe.txt"}
    )
    assert response.status_code == 400
    assert response.context["rename_form"].errors["name"]
    workspace.refresh_from_db()
    assert workspace.name == old


# ---------------------------------------------------------------------------- overview


def test_detail_shows_name_role_members_and_remembers_the_workspace(owner_client, workspace):
    add_member(workspace, Role.VIEWER)
    response = owner_client.get(_url("workspace_detail", workspace))
    assert response.status_code == 200
    assert response.context["members_count"] == 2
    assert response.context["role"] == "Owner"
    assert owner_client.session["current_workspace_id"] == str(workspace.pk)


def test_detail_of_a_foreign_or_missing_workspace_is_404(owner_client):
    foreign = WorkspaceFactory()
    assert owner_client.get(_url("workspace_detail", foreign)).status_code == 404
    missing = reverse("workspace_detail", kwargs={"workspace_id": uuid.uuid4()})
    assert owner_client.get(missing).status_code == 404


def test_detail_of_a_deleted_workspace_is_404(owner_client, workspace):
    Workspace.objects.filter(pk=workspace.pk).update(deleted_at="2024-01-01T00:00:00Z")
    assert owner_client.get(_url("workspace_detail", workspace)).status_code == 404


def test_member_can_leave(client, workspace):
    member = add_member(workspace, Role.DEVELOPER)
    client.force_login(member.user)
    response = client.post(_url("workspace_leave", workspace))
    assert response.status_code == 302
    assert not Membership.objects.filter(pk=member.pk).exists()


def test_last_owner_cannot_leave(owner_client, workspace, user):
    response = owner_client.post(_url("workspace_leave", workspace), follow=True)
    assert "last owner" in response.content.decode()
    assert Membership.objects.filter(workspace=workspace, user=user).exists()


# ---------------------------------------------------------------------------- settings


def test_settings_rename(owner_client, workspace):
    response = owner_client.post(
        _url("workspace_settings", workspace), {"form": "rename", "name": "Renamed"}
    )
    assert response.status_code == 302
    workspace.refresh_from_db()
    assert workspace.name == "Renamed"


def test_settings_update_stores_data_handling_settings(owner_client, workspace):
    response = owner_client.post(
        _url("workspace_settings", workspace),
        {
            "form": "settings",
            "usage_retention_days": "60",
            "zero_data_retention": "on",
            "training_opt_out": "on",
            "max_key_lifetime_days": "90",
        },
    )
    assert response.status_code == 302
    workspace.refresh_from_db()
    assert workspace.usage_retention_days == 60
    assert workspace.zero_data_retention and workspace.training_opt_out
    assert workspace.max_key_lifetime_days == 90


def test_settings_update_stores_the_budget_and_its_alert_thresholds(owner_client, workspace):
    response = owner_client.post(
        _url("workspace_settings", workspace),
        {
            "form": "settings",
            "usage_retention_days": "30",
            "monthly_token_budget": "2000000",
            "budget_alert_thresholds": "75, 100",
        },
    )
    assert response.status_code == 302
    workspace.refresh_from_db()
    assert workspace.monthly_token_budget == 2_000_000
    assert workspace.budget_alert_thresholds == [75, 100]
    page = owner_client.get(_url("workspace_settings", workspace))
    assert 'value="75, 100"' in page.content.decode()


@pytest.mark.parametrize("thresholds", ["50, 150", "50, 50", "half", "1,2,3,4,5,6", "-5"])
def test_settings_bad_alert_thresholds_are_a_form_error_and_change_nothing(
    owner_client, workspace, thresholds
):
    response = owner_client.post(
        _url("workspace_settings", workspace),
        {
            "form": "settings",
            "usage_retention_days": "30",
            "monthly_token_budget": "1000",
            "budget_alert_thresholds": thresholds,
        },
    )
    assert response.status_code == 400
    assert response.context["settings_form"].errors["budget_alert_thresholds"]
    workspace.refresh_from_db()
    assert workspace.monthly_token_budget is None
    assert workspace.budget_alert_thresholds == [50, 80, 100]


@pytest.mark.parametrize("days", ["29", "91", "abc", ""])
def test_settings_out_of_range_retention_is_a_form_error_and_changes_nothing(
    owner_client, workspace, days
):
    response = owner_client.post(
        _url("workspace_settings", workspace),
        {"form": "settings", "usage_retention_days": days, "zero_data_retention": "on"},
    )
    assert response.status_code == 400
    assert response.context["settings_form"].errors["usage_retention_days"]
    workspace.refresh_from_db()
    assert workspace.usage_retention_days == 30 and not workspace.zero_data_retention


def test_settings_page_is_404_for_developers(client, workspace):
    member = add_member(workspace, Role.DEVELOPER)
    client.force_login(member.user)
    assert client.get(_url("workspace_settings", workspace)).status_code == 404


def test_delete_needs_the_typed_name(owner_client, workspace):
    response = owner_client.post(_url("workspace_delete", workspace), {"confirm_name": "nope"})
    assert response.status_code == 400
    assert response.context["delete_form"].errors["confirm_name"]
    workspace.refresh_from_db()
    assert workspace.deleted_at is None

    response = owner_client.post(
        _url("workspace_delete", workspace), {"confirm_name": workspace.name}
    )
    assert response.status_code == 302
    workspace.refresh_from_db()
    assert workspace.deleted_at is not None
    assert "current_workspace_id" not in owner_client.session


def test_admin_cannot_delete(client, workspace):
    admin = add_member(workspace, Role.ADMIN)
    client.force_login(admin.user)
    response = client.post(_url("workspace_delete", workspace), {"confirm_name": workspace.name})
    assert response.status_code == 404
    workspace.refresh_from_db()
    assert workspace.deleted_at is None


def test_transfer_ownership(owner_client, workspace, user):
    other = add_member(workspace, Role.DEVELOPER)
    response = owner_client.post(
        _url("workspace_transfer", workspace),
        {"new_owner": str(other.user_id), "keep_role": Role.ADMIN},
    )
    assert response.status_code == 302
    other.refresh_from_db()
    assert other.role == Role.OWNER
    assert Membership.objects.get(workspace=workspace, user=user).role == Role.ADMIN


def test_transfer_to_a_non_member_is_a_form_error(owner_client, workspace, user):
    stranger = UserFactory()
    response = owner_client.post(
        _url("workspace_transfer", workspace),
        {"new_owner": str(stranger.pk), "keep_role": Role.ADMIN},
    )
    assert response.status_code == 400
    assert Membership.objects.get(workspace=workspace, user=user).role == Role.OWNER


# ---------------------------------------------------------------------------- members


def test_members_page_lists_members_and_invitations(owner_client, workspace, user):
    member = add_member(workspace, Role.VIEWER)
    invitation_create(workspace=workspace, actor=user, email="new@example.com", role=Role.VIEWER)
    body = owner_client.get(_url("workspace_members", workspace)).content.decode()
    assert member.user.email in body
    assert "new@example.com" in body and "Pending" in body


def test_viewer_sees_members_but_not_invitations(client, workspace, user):
    viewer = add_member(workspace, Role.VIEWER)
    invitation_create(workspace=workspace, actor=user, email="new@example.com", role=Role.VIEWER)
    client.force_login(viewer.user)
    response = client.get(_url("workspace_members", workspace))
    assert response.status_code == 200
    assert user.email in response.content.decode()
    assert "new@example.com" not in response.content.decode()


def test_invite_sends_an_email_and_lists_the_invitation(
    owner_client, workspace, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(
            _url("workspace_invite", workspace),
            {"email": "New@Example.com", "role": Role.DEVELOPER},
        )
    assert response.status_code == 302
    invitation = Invitation.objects.get(workspace=workspace)
    assert invitation.email == "new@example.com"
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["new@example.com"]
    assert "/invitations/" in mail.outbox[0].body


def test_invite_with_bad_email_is_a_form_error_and_creates_nothing(owner_client, workspace):
    response = owner_client.post(
        _url("workspace_invite", workspace), {"email": "not-an-email", "role": Role.VIEWER}
    )
    assert response.status_code == 400
    assert response.context["invite_form"].errors["email"]
    assert not Invitation.objects.exists()


@pytest.mark.parametrize(
    ("email", "message"),
    [
        ('"bob"@example.com', "quotation marks"),
        ("bob@ex\u0430mple.com", "mixes letters from different alphabets"),
    ],
)
def test_invite_with_a_quoted_or_mixed_script_address_is_a_form_error(
    owner_client, workspace, email, message
):
    response = owner_client.post(
        _url("workspace_invite", workspace), {"email": email, "role": Role.VIEWER}
    )
    assert response.status_code == 400
    assert message in response.context["invite_form"].errors["email"][0]
    assert not Invitation.objects.exists()


def test_invite_stores_the_address_in_its_one_spelling(owner_client, workspace):
    owner_client.post(
        _url("workspace_invite", workspace),
        {"email": "Bob@\uff45xample.com", "role": Role.VIEWER},
    )
    assert Invitation.objects.get().email == "bob@example.com"


def test_admin_cannot_invite_an_owner(client, workspace):
    admin = add_member(workspace, Role.ADMIN)
    client.force_login(admin.user)
    response = client.post(
        _url("workspace_invite", workspace), {"email": "x@example.com", "role": Role.OWNER}
    )
    assert response.status_code == 400
    assert not Invitation.objects.exists()


def test_invite_an_existing_member_is_a_form_error(owner_client, workspace):
    member = add_member(workspace, Role.VIEWER)
    response = owner_client.post(
        _url("workspace_invite", workspace), {"email": member.user.email, "role": Role.VIEWER}
    )
    assert response.status_code == 400
    assert "already a member" in response.content.decode()


def test_change_role_and_remove_member(owner_client, workspace):
    member = add_member(workspace, Role.VIEWER)
    owner_client.post(
        _url("member_role_change", workspace, user_id=member.user_id), {"role": Role.ADMIN}
    )
    member.refresh_from_db()
    assert member.role == Role.ADMIN
    owner_client.post(_url("member_remove", workspace, user_id=member.user_id))
    assert not Membership.objects.filter(pk=member.pk).exists()


def test_change_role_with_unknown_role_changes_nothing(owner_client, workspace):
    member = add_member(workspace, Role.VIEWER)
    response = owner_client.post(
        _url("member_role_change", workspace, user_id=member.user_id),
        {"role": "emperor"},
        follow=True,
    )
    assert "valid role" in response.content.decode()
    member.refresh_from_db()
    assert member.role == Role.VIEWER


def test_change_role_of_a_non_member_is_404(owner_client, workspace):
    stranger = UserFactory()
    response = owner_client.post(
        _url("member_role_change", workspace, user_id=stranger.pk), {"role": Role.ADMIN}
    )
    assert response.status_code == 404


def test_resend_and_revoke_invitation(owner_client, workspace, user):
    invitation, _ = invitation_create(
        workspace=workspace, actor=user, email="a@example.com", role=Role.VIEWER
    )
    old_hash = invitation.token_hash
    owner_client.post(_url("invitation_resend", workspace, invitation_id=invitation.pk))
    invitation.refresh_from_db()
    assert invitation.token_hash != old_hash
    owner_client.post(_url("invitation_revoke", workspace, invitation_id=invitation.pk))
    invitation.refresh_from_db()
    assert invitation.status == "revoked"


def test_invitation_of_another_workspace_is_404(owner_client, workspace):
    other_owner = UserFactory()
    other = WorkspaceFactory(owner=other_owner)
    invitation, _ = invitation_create(
        workspace=other, actor=other_owner, email="a@example.com", role=Role.VIEWER
    )
    response = owner_client.post(_url("invitation_revoke", workspace, invitation_id=invitation.pk))
    assert response.status_code == 404
    invitation.refresh_from_db()
    assert invitation.revoked_at is None


# ---------------------------------------------------------------------------- audit log


def test_audit_lists_workspace_events_filtered_by_action(owner_client, workspace, user):
    invitation_create(workspace=workspace, actor=user, email="a@example.com", role=Role.VIEWER)
    response = owner_client.get(
        _url("workspace_audit", workspace), {"action": Action.INVITATION_SENT}
    )
    assert response.status_code == 200
    actions = {event.action for event in response.context["page"].object_list}
    assert actions == {Action.INVITATION_SENT}


def test_audit_paginates(owner_client, workspace, user):
    for i in range(55):
        invitation_create(
            workspace=workspace, actor=user, email=f"p{i}@example.com", role=Role.VIEWER
        )
    response = owner_client.get(_url("workspace_audit", workspace))
    page = response.context["page"]
    assert len(page.object_list) == 50 and page.has_next()
    second = owner_client.get(_url("workspace_audit", workspace), {"page": 2})
    assert len(second.context["page"].object_list) == 56 - 50
    assert second.context["page"].has_previous() and not second.context["page"].has_next()
    # A page past the last is empty, with a way back; a page that is no number is the first.
    beyond = owner_client.get(_url("workspace_audit", workspace), {"page": 9})
    assert beyond.status_code == 200 and beyond.context["page"].object_list == []
    assert "Newer" in beyond.content.decode()
    assert (
        owner_client.get(_url("workspace_audit", workspace), {"page": "x"}).context["page"].number
        == 1
    )


def test_audit_log_costs_the_same_with_more_events(owner_client, workspace, user):
    url = _url("workspace_audit", workspace)
    owner_client.get(url)  # the first request of a session also records the session
    with CaptureQueriesContext(connection) as few:
        assert owner_client.get(url).status_code == 200
    for i in range(120):
        invitation_create(
            workspace=workspace, actor=user, email=f"q{i}@example.com", role=Role.VIEWER
        )
    with CaptureQueriesContext(connection) as many:
        assert owner_client.get(url).status_code == 200
    assert len(many) == len(few)
    # One page is read, and the events are not counted.
    assert not [q["sql"] for q in many.captured_queries if "COUNT(" in q["sql"].upper()]


def test_audit_with_an_inverted_date_range_is_400(owner_client, workspace):
    response = owner_client.get(
        _url("workspace_audit", workspace), {"since": "2024-05-02", "until": "2024-05-01"}
    )
    assert response.status_code == 400
    assert response.context["form"].errors["until"]


def test_audit_is_404_for_developers(client, workspace):
    member = add_member(workspace, Role.DEVELOPER)
    client.force_login(member.user)
    assert client.get(_url("workspace_audit", workspace)).status_code == 404
    assert client.get(_url("workspace_audit_csv", workspace)).status_code == 404


def test_audit_csv_streams_the_filtered_events(owner_client, workspace, user):
    invitation_create(workspace=workspace, actor=user, email="a@example.com", role=Role.VIEWER)
    response = owner_client.get(
        _url("workspace_audit_csv", workspace), {"action": Action.INVITATION_SENT}
    )
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][0] == "occurred_at"
    assert [row[1] for row in rows[1:]] == [Action.INVITATION_SENT]
    assert (
        len(rows) - 1
        == AuditEvent.objects.filter(
            workspace_id=workspace.pk, action=Action.INVITATION_SENT
        ).count()
    )


def test_audit_csv_neutralises_formula_cells(owner_client, workspace):
    from accounts.audit import audit_record

    audit_record(action=Action.WORKSPACE_RENAMED, workspace=workspace, actor_email="=HYPERLINK(1)")
    response = owner_client.get(_url("workspace_audit_csv", workspace))
    content = b"".join(response.streaming_content).decode()
    assert "'=HYPERLINK(1)" in content


def test_audit_csv_with_invalid_filters_is_400(owner_client, workspace):
    response = owner_client.get(_url("workspace_audit_csv", workspace), {"since": "yesterday"})
    assert response.status_code == 400


# ---------------------------------------------------------------------------- accepting


@pytest.fixture
def invited(workspace, user):
    invitee = UserFactory()
    invitation, token = invitation_create(
        workspace=workspace, actor=user, email=invitee.email, role=Role.DEVELOPER
    )
    return invitee, invitation, token


def test_accept_page_signed_out_offers_sign_in_and_sign_up_keeping_next(client, invited):
    _, _, token = invited
    url = reverse("invitation_accept", kwargs={"token": token})
    response = client.get(url)
    assert response.status_code == 200
    assert response.context["state"] == "signed_out"
    body = response.content.decode()
    assert reverse("account_login") + "?next=" in body
    assert reverse("account_signup") + "?next=" in body


def test_accept_page_for_the_invited_address_accepts_on_post(client, invited, workspace):
    invitee, _, token = invited
    client.force_login(invitee)
    url = reverse("invitation_accept", kwargs={"token": token})
    assert client.get(url).context["state"] == "can_accept"
    response = client.post(url)
    assert response.status_code == 302
    assert response["Location"] == _url("workspace_detail", workspace)
    assert Membership.objects.get(workspace=workspace, user=invitee).role == Role.DEVELOPER
    assert client.session["current_workspace_id"] == str(workspace.pk)


def test_accept_page_for_another_account_explains_and_refuses(client, invited, workspace):
    _, _, token = invited
    stranger = UserFactory()
    client.force_login(stranger)
    url = reverse("invitation_accept", kwargs={"token": token})
    response = client.get(url)
    assert response.context["state"] == "wrong_account"
    assert "another account" in response.content.decode()
    response = client.post(url, follow=True)
    assert "another address" in response.content.decode()
    assert not Membership.objects.filter(workspace=workspace, user=stranger).exists()


def test_accept_page_for_an_unverified_address_asks_to_verify(client, workspace, user):
    invitee = UserFactory(verified=False)
    from allauth.account.models import EmailAddress

    EmailAddress.objects.create(user=invitee, email=invitee.email, verified=False, primary=True)
    _, token = invitation_create(
        workspace=workspace, actor=user, email=invitee.email, role=Role.VIEWER
    )
    client.force_login(invitee)
    url = reverse("invitation_accept", kwargs={"token": token})
    assert client.get(url).context["state"] == "unverified"
    client.post(url)
    assert not Membership.objects.filter(workspace=workspace, user=invitee).exists()


def test_accept_page_with_an_unknown_token_is_404(client):
    response = client.get(reverse("invitation_accept", kwargs={"token": "nope"}))
    assert response.status_code == 404


def test_accept_post_signed_out_goes_to_login(client, invited):
    _, invitation, token = invited
    response = client.post(reverse("invitation_accept", kwargs={"token": token}))
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]
    invitation.refresh_from_db()
    assert invitation.accepted_at is None


def test_accept_by_id_joins_the_workspace(client, invited, workspace):
    invitee, invitation, _ = invited
    client.force_login(invitee)
    response = client.post(
        reverse("invitation_accept_by_id", kwargs={"invitation_id": invitation.pk})
    )
    assert response.status_code == 302
    assert Membership.objects.filter(workspace=workspace, user=invitee).exists()


def test_accept_by_id_for_someone_else_is_404(client, invited, workspace):
    _, invitation, _ = invited
    stranger = UserFactory()
    client.force_login(stranger)
    response = client.post(
        reverse("invitation_accept_by_id", kwargs={"invitation_id": invitation.pk})
    )
    assert response.status_code == 404
    assert not Membership.objects.filter(workspace=workspace, user=stranger).exists()
