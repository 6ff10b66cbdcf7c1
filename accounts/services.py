"""Writes for identity and tenancy. Each service is atomic and records its audit event
in the same transaction; side effects (email) go out on commit."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.audit import Action, audit_record
from accounts.emails import email_enqueue
from accounts.errors import Conflict, DomainError, Forbidden, NotFound
from accounts.models import (
    BUDGET_ALERT_THRESHOLDS_MAX,
    WORKSPACE_BUDGET_MAX,
    Invitation,
    Membership,
    User,
    Workspace,
)
from accounts.permissions import Perm, Role, role_can_assign, role_has_permission
from accounts.validators import NAME_UNSAFE_MESSAGE, email_normalise, text_has_unsafe_chars
from accounts.webhooks import events as webhook_events
from accounts.webhooks.services import webhook_event_record

USER_NAME_MAX_LENGTH = 150
WORKSPACE_NAME_MAX_LENGTH = 100
PERSONAL_WORKSPACE_SUFFIX = "'s workspace"

# ---------------------------------------------------------------------------- users


def _clean_user_name(name, *, required: bool) -> str:
    name = name.strip() if isinstance(name, str) else ""
    if required and not name:
        raise DomainError("Enter your name.", fields={"name": ["This field is required."]})
    if len(name) > USER_NAME_MAX_LENGTH:
        raise DomainError(
            "Name is too long.", fields={"name": [f"At most {USER_NAME_MAX_LENGTH} characters."]}
        )
    _refuse_unsafe_name(name)
    return name


def _refuse_unsafe_name(name: str) -> None:
    # Names go into email subjects, CSV files and logs, where these characters break
    # lines or reorder what the reader sees.
    if text_has_unsafe_chars(name):
        raise DomainError(
            "Name contains characters that are not allowed.",
            code="unsafe_characters",
            fields={"name": [NAME_UNSAFE_MESSAGE]},
        )


@transaction.atomic
def user_profile_update(*, user: User, name: str) -> User:
    name = _clean_user_name(name, required=False)
    if name != user.name:
        user.name = name
        user.save(update_fields=["name"])
        audit_record(action=Action.PROFILE_UPDATED, actor=user, metadata={"fields": ["name"]})
    return user


@transaction.atomic
def user_preferences_update(*, user: User, marketing_emails: bool) -> User:
    if user.marketing_emails != marketing_emails:
        user.marketing_emails = marketing_emails
        user.save(update_fields=["marketing_emails"])
        audit_record(
            action=Action.PREFERENCES_UPDATED,
            actor=user,
            metadata={"marketing_emails": marketing_emails},
        )
    return user


def _require_may_act_on_account(*, user: User, actor: User) -> None:
    # Staff act on customers; the account of a staff member or superuser is a
    # superuser's to change.
    if (user.is_staff or user.is_superuser) and not actor.is_superuser:
        raise Forbidden("Only a superuser may change the account of a staff member.")


@transaction.atomic
def user_set_active(*, user: User, is_active: bool, actor: User) -> User:
    """Deactivate (or reactivate) an account; deactivation ends its sessions.

    Support staff act on customers only: the account of another staff member or of a
    superuser is changed by a superuser.
    """
    _require_may_act_on_account(user=user, actor=actor)
    if user.is_active == is_active:
        return user
    user.is_active = is_active
    user.save(update_fields=["is_active"])
    if not is_active:
        from allauth.usersessions.models import UserSession

        for session in UserSession.objects.filter(user=user):
            session.end()
    audit_record(
        action=Action.USER_REACTIVATED if is_active else Action.USER_DEACTIVATED,
        actor=actor,
        subject_user=user,
        target=user,
        metadata={"by_staff": bool(actor.is_staff)},
    )
    return user


@transaction.atomic
def user_sessions_end(*, user: User, sessions) -> int:
    """End sessions of `user` (signing those browsers out); return how many ended.

    Sessions of other accounts are ignored, so a forged id cannot end someone else's.
    """
    ended = 0
    for session in sessions:
        if session.user_id != user.pk:
            continue
        session_id = session.pk
        session.end()
        audit_record(
            action=Action.SESSION_ENDED,
            actor=user,
            target_type="usersessions.usersession",
            target_id=str(session_id),
        )
        ended += 1
    return ended


# The staff roles, seeded as groups by migration; docs/security.md says what each may do.
STAFF_ROLES = ("Support", "Privacy", "Security")


@transaction.atomic
def user_staff_roles_set(*, user: User, roles, actor: User) -> User:
    """Give `user` exactly `roles` among the staff roles; staff status follows them.

    Only a superuser assigns roles: a role's permissions are what its members may do.
    Groups that are not staff roles are left as they are.
    """
    if not (actor.is_active and actor.is_superuser):
        raise Forbidden("Only a superuser may assign staff roles.")
    roles = sorted(set(roles))
    unknown = [role for role in roles if role not in STAFF_ROLES]
    if unknown:
        raise DomainError(
            f"Unknown staff role: {', '.join(unknown)}.", fields={"roles": ["Unknown role."]}
        )
    if user.is_superuser:
        raise Conflict("A superuser holds every permission; roles would change nothing.")
    user = User.objects.select_for_update().get(pk=user.pk)
    before = sorted(user.groups.filter(name__in=STAFF_ROLES).values_list("name", flat=True))
    if before == roles and user.is_staff == bool(roles):
        return user
    groups = Group.objects.filter(name__in=STAFF_ROLES)
    user.groups.remove(*[g for g in groups if g.name not in roles])
    user.groups.add(*[g for g in groups if g.name in roles])
    user.is_staff = bool(roles)
    user.save(update_fields=["is_staff"])
    audit_record(
        action=Action.STAFF_ROLES_CHANGED,
        actor=actor,
        subject_user=user,
        target=user,
        metadata={"before": before, "after": roles},
    )
    return user


@transaction.atomic
def user_sessions_end_by_staff(*, user: User, actor: User) -> int:
    """End every session of a customer's account on behalf of staff; return how many.

    The account stays active: this signs every browser out, for instance after a
    report that the account was taken over. One audit event records the count.
    """
    if not (actor.is_active and actor.is_staff and actor.has_perm("accounts.end_sessions")):
        raise Forbidden("Only staff in the Security role may end the sessions of an account.")
    _require_may_act_on_account(user=user, actor=actor)
    from allauth.usersessions.models import UserSession

    ended = 0
    for session in UserSession.objects.filter(user=user):
        session.end()
        ended += 1
    audit_record(
        action=Action.SESSIONS_ENDED_BY_STAFF,
        actor=actor,
        subject_user=user,
        target=user,
        metadata={"sessions": ended, "by_staff": True},
    )
    return ended


MFA_REMOVAL_REASON_MAX = 500


@transaction.atomic
def user_mfa_remove_by_staff(*, user: User, actor: User, reason: str) -> int:
    """Remove every second factor of a customer who lost theirs; return how many.

    For a person who proved who they are some other way (the reason records how, for
    instance the support request it answers). Removing the factor also ends every
    session, so whoever holds a session from before cannot keep it, and the person is
    told at every verified address at once (security mail, always sent): if they did
    not ask, they know.
    """
    if not (actor.is_active and actor.is_staff and actor.has_perm("accounts.remove_mfa")):
        raise Forbidden("Only staff in the Security role may remove a second factor.")
    _require_may_act_on_account(user=user, actor=actor)
    reason = " ".join((reason or "").split())
    if not reason:
        raise DomainError(
            "Say how the person's identity was checked.", fields={"reason": ["Required."]}
        )
    if len(reason) > MFA_REMOVAL_REASON_MAX:
        raise DomainError(
            f"The reason is at most {MFA_REMOVAL_REASON_MAX} characters.",
            fields={"reason": ["Too long."]},
        )
    from allauth.mfa.models import Authenticator
    from allauth.usersessions.models import UserSession

    authenticators = Authenticator.objects.select_for_update().filter(user=user)
    kinds = sorted({a.type for a in authenticators})
    if not kinds:
        raise Conflict("This account has no second factor.")
    removed, _ = authenticators.delete()
    for session in UserSession.objects.filter(user=user):
        session.end()
    audit_record(
        action=Action.MFA_REMOVED_BY_STAFF,
        actor=actor,
        subject_user=user,
        target=user,
        metadata={"authenticators": kinds, "reason": reason, "by_staff": True},
    )
    from allauth.account.models import EmailAddress

    # Every verified address hears of it, so a takeover through one inbox is seen in another.
    addresses = {user.email} | set(
        EmailAddress.objects.filter(user=user, verified=True).values_list("email", flat=True)
    )
    email_enqueue(
        to=sorted(addresses),
        template="accounts/email/mfa_removed",
        context={"site_url": settings.SITE_URL},
    )
    return removed


# ---------------------------------------------------------------------------- workspaces


def _clean_workspace_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise DomainError("A workspace needs a name.", fields={"name": ["This field is required."]})
    if len(name) > WORKSPACE_NAME_MAX_LENGTH:
        raise DomainError(
            "Name is too long.",
            fields={"name": [f"At most {WORKSPACE_NAME_MAX_LENGTH} characters."]},
        )
    _refuse_unsafe_name(name)
    return name


def workspace_personal_name(*, user_name: str) -> str:
    """Return the name of a person's own workspace: "Ada's workspace".

    The first word is shortened when needed, so any valid person's name gives a valid
    workspace name.
    """
    first = user_name.strip().split(" ")[0] if user_name.strip() else "My"
    room = WORKSPACE_NAME_MAX_LENGTH - len(PERSONAL_WORKSPACE_SUFFIX)
    if len(first) > room:
        first = first[: room - 1].rstrip() + "…"
    return f"{first}{PERSONAL_WORKSPACE_SUFFIX}"


@transaction.atomic
def workspace_create(*, user: User, name: str, is_personal: bool = False) -> Workspace:
    workspace = Workspace.objects.create(
        name=_clean_workspace_name(name),
        is_personal=is_personal,
        created_by=user,
        usage_retention_days=settings.WORKSPACE_USAGE_RETENTION_DEFAULT_DAYS,
    )
    Membership.objects.create(workspace=workspace, user=user, role=Role.OWNER)
    audit_record(
        action=Action.WORKSPACE_CREATED,
        actor=user,
        workspace=workspace,
        target=workspace,
        metadata={"personal": is_personal},
    )
    return workspace


@transaction.atomic
def workspace_rename(*, workspace: Workspace, actor: User, name: str) -> Workspace:
    _require(workspace, actor, Perm.WORKSPACE_UPDATE)
    name = _clean_workspace_name(name)
    if name != workspace.name:
        old = workspace.name
        workspace.name = name
        workspace.save(update_fields=["name"])
        audit_record(
            action=Action.WORKSPACE_RENAMED,
            actor=actor,
            workspace=workspace,
            target=workspace,
            metadata={"from": old, "to": name},
        )
    return workspace


WORKSPACE_SETTING_FIELDS = (
    "usage_retention_days",
    "zero_data_retention",
    "training_opt_out",
    "max_key_lifetime_days",
    "monthly_token_budget",
    "budget_alert_thresholds",
)


def budget_alert_thresholds_clean(value, *, field: str = "budget_alert_thresholds") -> list[int]:
    """Return thresholds as sorted distinct percentages, or raise for anything else.

    A budget's alert thresholds are whole percentages from 1 to 100, at most
    BUDGET_ALERT_THRESHOLDS_MAX of them; an empty list sends no alerts.
    """
    message = (
        f"Alert thresholds are at most {BUDGET_ALERT_THRESHOLDS_MAX} distinct whole "
        "percentages from 1 to 100."
    )
    if not isinstance(value, list | tuple) or len(value) > BUDGET_ALERT_THRESHOLDS_MAX:
        raise DomainError(message, fields={field: [message]})
    cleaned = set()
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int) or not 1 <= item <= 100:
            raise DomainError(message, fields={field: [message]})
        cleaned.add(item)
    if len(cleaned) != len(value):
        raise DomainError(message, fields={field: [message]})
    return sorted(cleaned)


@transaction.atomic
def workspace_settings_update(*, workspace: Workspace, actor: User, **changes) -> Workspace:
    """Change data-handling settings; later apps hook cache invalidation in here."""
    _require(workspace, actor, Perm.SETTINGS_UPDATE)
    unknown = set(changes) - set(WORKSPACE_SETTING_FIELDS)
    if unknown:
        raise DomainError(f"Unknown settings: {', '.join(sorted(unknown))}.")
    days = changes.get("usage_retention_days")
    if days is not None and not 30 <= int(days) <= 90:
        raise DomainError(
            "Usage retention must be between 30 and 90 days.",
            fields={"usage_retention_days": ["Between 30 and 90."]},
        )
    lifetime = changes.get("max_key_lifetime_days")
    if lifetime is not None and not 1 <= int(lifetime) <= 3650:
        raise DomainError(
            "Maximum key lifetime must be between 1 and 3650 days.",
            fields={"max_key_lifetime_days": ["Between 1 and 3650."]},
        )
    budget = changes.get("monthly_token_budget")
    if budget is not None and not 1 <= int(budget) <= WORKSPACE_BUDGET_MAX:
        raise DomainError(
            "The monthly token budget must be between 1 and 10^15 tokens.",
            fields={"monthly_token_budget": ["Between 1 and 10^15."]},
        )
    if "budget_alert_thresholds" in changes:
        changes["budget_alert_thresholds"] = budget_alert_thresholds_clean(
            changes["budget_alert_thresholds"]
        )
    changed = {}
    for field, value in changes.items():
        if getattr(workspace, field) != value:
            changed[field] = {"from": getattr(workspace, field), "to": value}
            setattr(workspace, field, value)
    if changed:
        workspace.save(update_fields=list(changed))
        audit_record(
            action=Action.WORKSPACE_SETTINGS_UPDATED,
            actor=actor,
            workspace=workspace,
            target=workspace,
            metadata={"changes": changed},
        )
        _run_workspace_hooks("settings_changed", workspace=workspace)
    return workspace


@transaction.atomic
def workspace_update(
    *, workspace: Workspace, actor: User, name: str | None = None, **settings_changes
) -> Workspace:
    """Rename and change settings together: all of it happens or none of it."""
    if name is not None:
        workspace_rename(workspace=workspace, actor=actor, name=name)
    if settings_changes:
        workspace_settings_update(workspace=workspace, actor=actor, **settings_changes)
    return workspace


# Other apps register callables here (at app ready) to react to workspace changes,
# e.g. API key caches. Explicit registration, not signals. "members_changed" runs when
# members join, leave or change role (who the owners are feeds data-handling flags).
WORKSPACE_HOOKS: dict[str, list] = {"settings_changed": [], "deleted": [], "members_changed": []}


def _run_workspace_hooks(event: str, **kwargs) -> None:
    for hook in WORKSPACE_HOOKS[event]:
        hook(**kwargs)


@transaction.atomic
def workspace_delete(*, workspace: Workspace, actor: User) -> Workspace:
    """Mark a workspace deleted; its data is removed by the deletion machinery."""
    _require(workspace, actor, Perm.WORKSPACE_DELETE)
    if workspace.deleted_at:
        return workspace
    workspace.deleted_at = timezone.now()
    workspace.save(update_fields=["deleted_at"])
    workspace.invitations.pending().update(revoked_at=workspace.deleted_at)
    audit_record(
        action=Action.WORKSPACE_DELETED, actor=actor, workspace=workspace, target=workspace
    )
    _run_workspace_hooks("deleted", workspace=workspace)
    return workspace


@transaction.atomic
def workspace_transfer_ownership(
    *, workspace: Workspace, actor: User, new_owner: User, keep_actor_as: str = Role.ADMIN
) -> Workspace:
    """Make another member an owner; the actor steps down to `keep_actor_as`."""
    _require(workspace, actor, Perm.WORKSPACE_TRANSFER)
    target = (
        Membership.objects.select_for_update().filter(workspace=workspace, user=new_owner).first()
    )
    if target is None:
        raise Conflict("The new owner must already be a member of this workspace.")
    if new_owner.pk == actor.pk:
        raise Conflict("You already own this workspace.")
    if keep_actor_as not in Role.values:
        raise DomainError("Unknown role.")
    target.role = Role.OWNER
    target.save(update_fields=["role"])
    mine = Membership.objects.select_for_update().get(workspace=workspace, user=actor)
    mine.role = keep_actor_as
    mine.save(update_fields=["role"])
    audit_record(
        action=Action.WORKSPACE_TRANSFERRED,
        actor=actor,
        workspace=workspace,
        target=target,
        metadata={"new_owner_id": new_owner.pk, "previous_owner_role": keep_actor_as},
    )
    _run_workspace_hooks("members_changed", workspace=workspace)
    return workspace


# ---------------------------------------------------------------------------- members


def _require(workspace: Workspace, actor: User, permission: str) -> Membership:
    membership = Membership.objects.filter(workspace=workspace, user=actor).first()
    if membership is None or workspace.deleted_at:
        raise NotFound()
    if not role_has_permission(membership.role, permission):
        raise NotFound()
    return membership


def _other_owner_exists(workspace: Workspace, excluding: Membership) -> bool:
    # Lock the owner rows so two concurrent demotions cannot both see "another owner".
    owners = list(
        Membership.objects.select_for_update()
        .filter(workspace=workspace, role=Role.OWNER)
        .values_list("pk", flat=True)
    )
    return any(pk != excluding.pk for pk in owners)


@transaction.atomic
def membership_change_role(
    *, workspace: Workspace, actor: User, membership: Membership, role: str
) -> Membership:
    mine = _require(workspace, actor, Perm.MEMBERS_MANAGE)
    if membership.workspace_id != workspace.pk:
        raise NotFound()
    if role not in Role.values:
        raise DomainError("Unknown role.", fields={"role": ["Not a valid role."]})
    if not role_can_assign(mine.role, role) or not role_can_assign(mine.role, membership.role):
        raise Forbidden("You cannot grant or change a role above your own.")
    if membership.role == role:
        return membership
    if membership.role == Role.OWNER and not _other_owner_exists(workspace, membership):
        raise Conflict("The last owner cannot be demoted; transfer ownership first.")
    old = membership.role
    membership.role = role
    membership.save(update_fields=["role"])
    audit_record(
        action=Action.MEMBER_ROLE_CHANGED,
        actor=actor,
        workspace=workspace,
        target=membership,
        metadata={"user_id": membership.user_id, "from": old, "to": role},
    )
    webhook_event_record(
        workspace=workspace,
        event_type=webhook_events.MEMBER_ROLE_CHANGED,
        data={"user_id": membership.user_id, "previous_role": old, "role": role},
    )
    _run_workspace_hooks("members_changed", workspace=workspace)
    return membership


@transaction.atomic
def membership_remove(*, workspace: Workspace, actor: User, membership: Membership) -> None:
    if membership.workspace_id != workspace.pk:
        raise NotFound()
    leaving = membership.user_id == actor.pk
    if leaving:
        _require(workspace, actor, Perm.WORKSPACE_VIEW)
    else:
        mine = _require(workspace, actor, Perm.MEMBERS_MANAGE)
        if not role_can_assign(mine.role, membership.role):
            raise Forbidden("You cannot remove a member whose role is above your own.")
    if membership.role == Role.OWNER and not _other_owner_exists(workspace, membership):
        raise Conflict("The last owner cannot leave; transfer ownership or delete the workspace.")
    user_id = membership.user_id
    membership.delete()
    audit_record(
        action=Action.MEMBER_LEFT if leaving else Action.MEMBER_REMOVED,
        actor=actor,
        workspace=workspace,
        target_type="accounts.membership",
        target_id=str(user_id),
        metadata={"user_id": user_id},
    )
    webhook_event_record(
        workspace=workspace,
        event_type=webhook_events.MEMBER_REMOVED,
        data={"user_id": user_id, "left": leaving},
    )
    _run_workspace_hooks("members_changed", workspace=workspace)


# ---------------------------------------------------------------------------- invitations


def invitation_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _invitation_email(invitation: Invitation, token: str) -> None:
    email_enqueue(
        to=[invitation.email],
        template="accounts/email/invitation",
        context={
            "workspace_name": invitation.workspace.name,
            "inviter": invitation.invited_by.get_full_name() if invitation.invited_by else "",
            "role": invitation.get_role_display(),
            "accept_url": f"{settings.SITE_URL}/invitations/{token}/",
            "expires_at": invitation.expires_at,
        },
    )


@transaction.atomic
def invitation_create(
    *, workspace: Workspace, actor: User, email: str, role: str
) -> tuple[Invitation, str]:
    """Invite `email`; return the invitation and the one-time token (emailed, not stored)."""
    mine = _require(workspace, actor, Perm.INVITATIONS_MANAGE)
    try:
        email = email_normalise(email)
    except ValidationError as exc:
        raise DomainError(exc.messages[0], fields={"email": exc.messages}) from None
    if role not in Role.values:
        raise DomainError("Unknown role.", fields={"role": ["Not a valid role."]})
    if not role_can_assign(mine.role, role):
        raise Forbidden("You cannot invite someone with a role above your own.")
    if Membership.objects.filter(workspace=workspace, user__email__iexact=email).exists():
        raise Conflict("That person is already a member.", code="already_member")
    if workspace.invitations.pending().filter(email=email).exists():
        raise Conflict(
            "An invitation to that address is already pending; resend it instead.",
            code="already_invited",
        )
    token = secrets.token_urlsafe(32)
    now = timezone.now()
    invitation = Invitation.objects.create(
        workspace=workspace,
        email=email,
        role=role,
        token_hash=invitation_token_hash(token),
        invited_by=actor,
        sent_at=now,
        expires_at=now + timedelta(days=settings.INVITATION_TTL_DAYS),
    )
    audit_record(
        action=Action.INVITATION_SENT,
        actor=actor,
        workspace=workspace,
        target=invitation,
        metadata={"role": role},
    )
    webhook_event_record(
        workspace=workspace,
        event_type=webhook_events.MEMBER_INVITED,
        data={
            "invitation_id": invitation.pk,
            "email": invitation.email,
            "role": role,
            "invited_by": actor.pk,
            "expires_at": invitation.expires_at.isoformat(),
        },
    )
    _invitation_email(invitation, token)
    return invitation, token


@transaction.atomic
def invitation_resend(*, invitation: Invitation, actor: User) -> tuple[Invitation, str]:
    """Issue a fresh token and a fresh 7 days; the old link stops working."""
    _require(invitation.workspace, actor, Perm.INVITATIONS_MANAGE)
    if invitation.accepted_at or invitation.revoked_at:
        raise Conflict("Only a pending or expired invitation can be resent.")
    token = secrets.token_urlsafe(32)
    now = timezone.now()
    invitation.token_hash = invitation_token_hash(token)
    invitation.sent_at = now
    invitation.expires_at = now + timedelta(days=settings.INVITATION_TTL_DAYS)
    invitation.save(update_fields=["token_hash", "sent_at", "expires_at"])
    audit_record(
        action=Action.INVITATION_RESENT,
        actor=actor,
        workspace=invitation.workspace,
        target=invitation,
    )
    _invitation_email(invitation, token)
    return invitation, token


@transaction.atomic
def invitation_revoke(*, invitation: Invitation, actor: User) -> Invitation:
    _require(invitation.workspace, actor, Perm.INVITATIONS_MANAGE)
    if invitation.accepted_at:
        raise Conflict("This invitation was already accepted.")
    if not invitation.revoked_at:
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at"])
        audit_record(
            action=Action.INVITATION_REVOKED,
            actor=actor,
            workspace=invitation.workspace,
            target=invitation,
        )
    return invitation


@transaction.atomic
def invitation_revoke_by_staff(*, invitation: Invitation, actor: User) -> Invitation:
    """Revoke an invitation on behalf of support staff, who are not workspace members."""
    if not (actor.is_active and actor.is_staff):
        raise Forbidden("Only active staff may revoke invitations of other workspaces.")
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.accepted_at:
        raise Conflict("This invitation was already accepted.")
    if not invitation.revoked_at:
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at"])
        audit_record(
            action=Action.INVITATION_REVOKED,
            actor=actor,
            workspace=invitation.workspace_id,
            target=invitation,
            metadata={"by_staff": True},
        )
    return invitation


def invitation_get_by_token(*, token: str) -> Invitation:
    """Find a pending invitation by its token; anything else is NotFound."""
    if not token or len(token) > 128:
        raise NotFound()
    invitation = (
        Invitation.objects.pending()
        .select_related("workspace")
        .filter(token_hash=invitation_token_hash(token), workspace__deleted_at__isnull=True)
        .first()
    )
    if invitation is None:
        raise NotFound()
    return invitation


@transaction.atomic
def invitation_accept(*, token: str, user: User) -> Membership:
    """Join the workspace. Only the invited address (verified) may accept."""
    invitation = invitation_get_by_token(token=token)
    return _invitation_join(invitation_id=invitation.pk, user=user)


@transaction.atomic
def invitation_accept_for_user(*, invitation_id: int, user: User) -> Membership:
    """Accept an invitation listed for the user; it must be addressed to a verified address.

    Anything the user may not accept is NotFound, so ids reveal nothing.
    """
    if not isinstance(invitation_id, int) or isinstance(invitation_id, bool):
        raise NotFound()
    try:
        return _invitation_join(invitation_id=invitation_id, user=user)
    except Forbidden:
        raise NotFound() from None


def _invitation_join(*, invitation_id: int, user: User) -> Membership:
    # Lock the row so two concurrent accepts cannot both create a membership.
    invitation = (
        Invitation.objects.select_for_update(of=("self",))
        .select_related("workspace")
        .filter(pk=invitation_id)
        .first()
    )
    if (
        invitation is None
        or invitation.status != "pending"
        or invitation.workspace.deleted_at is not None
    ):
        raise NotFound()
    if not _user_has_verified_email(user, invitation.email):
        raise Forbidden(
            "This invitation was sent to another address. Sign in with that address to accept it.",
            code="wrong_account",
        )
    membership, created = Membership.objects.get_or_create(
        workspace=invitation.workspace, user=user, defaults={"role": invitation.role}
    )
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    audit_record(
        action=Action.INVITATION_ACCEPTED,
        actor=user,
        workspace=invitation.workspace,
        target=invitation,
        metadata={"role": membership.role, "new_member": created},
    )
    if created:
        webhook_event_record(
            workspace=invitation.workspace,
            event_type=webhook_events.MEMBER_JOINED,
            data={
                "user_id": user.pk,
                "email": user.email,
                "role": membership.role,
                "invitation_id": invitation.pk,
            },
        )
    _run_workspace_hooks("members_changed", workspace=invitation.workspace)
    return membership


def _user_has_verified_email(user: User, email: str) -> bool:
    from allauth.account.models import EmailAddress

    return EmailAddress.objects.filter(user=user, email__iexact=email, verified=True).exists()


# ---------------------------------------------------------------------------- sign-up


@transaction.atomic
def user_signup_complete(*, user: User, name: str) -> Workspace:
    """Finish sign-up: record the name and age confirmation, create the personal workspace.

    The name is checked before anything is written. allauth saves the user and its
    address before calling this; the sign-up view holds all of it in one transaction.
    """
    name = _clean_user_name(name, required=True)
    workspace_name = workspace_personal_name(user_name=name)
    user.name = name
    user.age_confirmed_at = timezone.now()
    user.save(update_fields=["name", "age_confirmed_at"])
    audit_record(action=Action.SIGNUP, actor=user)
    return workspace_create(user=user, name=workspace_name, is_personal=True)
