"""Seed a demo login whose workspace has sample data, for trying the console locally.

Idempotent: each piece is created only when it is missing, so `make run` can call this
on every start. Sample data goes through the services, so memberships, invitations and
audit events look exactly like the real thing (and the invitation emails are sent).

Other apps contribute sample data by adding the dotted path of a function to
`DEMO_SEEDERS`. Each is called on every run as `seeder(user=..., workspace=...)` inside
the same transaction, must itself be idempotent, must write through services, and may
return lines to print after the login (a demo API key, say).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from allauth.account.models import EmailAddress
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils.module_loading import import_string

from accounts.models import Membership, User, Workspace
from accounts.permissions import Role
from accounts.services import (
    invitation_accept,
    invitation_create,
    invitation_resend,
    user_signup_complete,
    workspace_create,
    workspace_settings_update,
)

DEMO_EMAIL = "demo@example.com"
# A fixed, printed password: this command only runs with DEBUG on (or --force).
DEMO_PASSWORD = "console-demo-password"
DEMO_NAME = "Dana Demo"
DEMO_WORKSPACE = "Demo workspace"
TEAMMATE_EMAIL = "sam@example.com"
TEAMMATE_NAME = "Sam Teammate"
INVITEE_EMAIL = "alex@example.com"

# In order: sample usage is spread over the demo keys, so the keys come first.
DEMO_SEEDERS: list[str] = [
    "apikeys.keys.demo.api_keys_demo_seed",
    "apikeys.usage.demo.usage_demo_seed",
]

Seeder = Callable[..., Iterable[str] | None]


class Command(BaseCommand):
    help = "Create (or refresh) the local demo login and its sample workspace."

    def add_arguments(self, parser):
        parser.add_argument(
            "--force",
            action="store_true",
            help="Run even though DEBUG is off. The demo password is public: never in production.",
        )

    def handle(self, *args, force: bool = False, **options):
        if not settings.DEBUG and not force:
            raise CommandError(
                "demo_setup creates a login with a published password; it runs only with "
                "DEBUG on. Use --force if you really mean it."
            )
        with transaction.atomic():
            user, created = _demo_user(email=DEMO_EMAIL, name=DEMO_NAME)
            workspace = _demo_workspace(user)
            _demo_teammate(user, workspace)
            _demo_pending_invitation(user, workspace)
            # No-op when already set; the first run leaves a settings change in the audit log.
            workspace_settings_update(
                workspace=workspace, actor=user, training_opt_out=True, usage_retention_days=60
            )
            extra: list[str] = []
            for path in DEMO_SEEDERS:
                seeder: Seeder = import_string(path)
                extra.extend(seeder(user=user, workspace=workspace) or ())

        password = DEMO_PASSWORD if user.check_password(DEMO_PASSWORD) else "(changed since set-up)"
        self.stdout.write(
            self.style.SUCCESS("Demo login " + ("created" if created else "ready"))
            + f"\n  URL:       {settings.SITE_URL}/accounts/login/"
            + f"\n  email:     {DEMO_EMAIL}"
            + f"\n  password:  {password}"
            + f"\n  workspace: {workspace.name} (teammate {TEAMMATE_EMAIL}, same password)"
        )
        for line in extra:
            self.stdout.write(f"  {line}")


def _demo_user(*, email: str, name: str) -> tuple[User, bool]:
    """Return the user with `email`, creating it signed-up and verified if missing."""
    user = User.objects.filter(email=email).first()
    if user is not None:
        return user, False
    # Sign-up itself belongs to allauth; these are the same calls its flow makes.
    user = User.objects.create_user(email=email, password=DEMO_PASSWORD)
    address = EmailAddress.objects.add_email(None, user, email)
    address.set_verified(commit=True)
    address.set_as_primary(conditional=True)
    user_signup_complete(user=user, name=name)
    return user, True


def _demo_workspace(user: User) -> Workspace:
    workspace = (
        Workspace.objects.for_user(user)
        .filter(name=DEMO_WORKSPACE, created_by=user, is_personal=False)
        .first()
    )
    return workspace or workspace_create(user=user, name=DEMO_WORKSPACE)


def _demo_teammate(owner: User, workspace: Workspace) -> None:
    teammate, _ = _demo_user(email=TEAMMATE_EMAIL, name=TEAMMATE_NAME)
    if Membership.objects.filter(workspace=workspace, user=teammate).exists():
        return
    _, token = invitation_create(
        workspace=workspace, actor=owner, email=TEAMMATE_EMAIL, role=Role.DEVELOPER
    )
    invitation_accept(token=token, user=teammate)


def _demo_pending_invitation(owner: User, workspace: Workspace) -> None:
    invitation = workspace.invitations.filter(email=INVITEE_EMAIL).first()
    if invitation is None:
        invitation_create(workspace=workspace, actor=owner, email=INVITEE_EMAIL, role=Role.VIEWER)
    elif invitation.status == "expired":
        invitation_resend(invitation=invitation, actor=owner)
