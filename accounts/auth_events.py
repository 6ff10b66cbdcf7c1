"""Audit events for what allauth and django.contrib.auth do (login, MFA, password...).

These are the libraries' own integration points; our domain flow does not use signals.
Sign-up is recorded by `user_signup_complete`, and ended sessions by
`user_sessions_end`, so neither appears here.
"""

from allauth.account import signals as account_signals
from allauth.mfa import signals as mfa_signals
from allauth.mfa.models import Authenticator
from django.contrib.auth import signals as auth_signals
from django.dispatch import receiver

from accounts.audit import Action, audit_record
from accounts.models import User


@receiver(auth_signals.user_logged_in, dispatch_uid="audit_login")
def record_login(sender, request, user, **kwargs):
    audit_record(action=Action.LOGIN, actor=user)


@receiver(auth_signals.user_logged_out, dispatch_uid="audit_logout")
def record_logout(sender, request, user, **kwargs):
    if user is not None:
        audit_record(action=Action.LOGOUT, actor=user)


@receiver(auth_signals.user_login_failed, dispatch_uid="audit_login_failed")
def record_login_failed(sender, credentials, request=None, **kwargs):
    """Record a failed password check, naming the account only if it exists.

    What was typed is never stored: an unknown address may be a mistyped password or
    someone else's personal data.
    """
    typed = credentials.get("email") or credentials.get(User.USERNAME_FIELD) or ""
    account = None
    if isinstance(typed, str) and typed.strip():
        account = User.objects.filter(email__iexact=typed.strip()).first()
    audit_record(
        action=Action.LOGIN_FAILED,
        subject_user=account,
        actor_email="",
        metadata={"stage": "password"},
    )


@receiver(mfa_signals.authentication_failed, dispatch_uid="audit_mfa_failed")
def record_mfa_failed(sender, request, user, authenticator=None, **kwargs):
    audit_record(
        action=Action.LOGIN_FAILED,
        subject_user=user,
        actor_email="",
        metadata={"stage": "mfa", "reauthentication": bool(kwargs.get("reauthentication"))},
    )


@receiver(account_signals.password_changed, dispatch_uid="audit_password_changed")
def record_password_changed(sender, request, user, **kwargs):
    audit_record(action=Action.PASSWORD_CHANGED, actor=user)


@receiver(account_signals.password_reset, dispatch_uid="audit_password_reset")
def record_password_reset(sender, request, user, **kwargs):
    audit_record(action=Action.PASSWORD_RESET, actor=user)


# Email events name the address by its row id only: addresses are personal data and
# the hashed part of an event can never be erased.
@receiver(account_signals.email_added, dispatch_uid="audit_email_added")
def record_email_added(sender, request, user, email_address, **kwargs):
    audit_record(action=Action.EMAIL_ADDED, actor=user, target=email_address)


@receiver(account_signals.email_confirmed, dispatch_uid="audit_email_confirmed")
def record_email_confirmed(sender, request, email_address, **kwargs):
    audit_record(action=Action.EMAIL_CONFIRMED, actor=email_address.user, target=email_address)


@receiver(account_signals.email_changed, dispatch_uid="audit_email_changed")
def record_email_changed(sender, request, user, from_email_address, to_email_address, **kwargs):
    audit_record(
        action=Action.EMAIL_CHANGED,
        actor=user,
        target=to_email_address,
        metadata={"from_id": getattr(from_email_address, "pk", None)},
    )


@receiver(account_signals.email_removed, dispatch_uid="audit_email_removed")
def record_email_removed(sender, request, user, email_address, **kwargs):
    audit_record(
        action=Action.EMAIL_REMOVED,
        actor=user,
        target_type="account.emailaddress",
        target_id=str(email_address.pk or ""),
    )


@receiver(mfa_signals.authenticator_added, dispatch_uid="audit_mfa_added")
def record_authenticator_added(sender, request, user, authenticator, **kwargs):
    if authenticator.type == Authenticator.Type.RECOVERY_CODES:
        action = Action.MFA_RECOVERY_CODES_GENERATED
    else:
        action = Action.MFA_ACTIVATED
    audit_record(action=action, actor=user, target=authenticator, metadata=_mfa(authenticator))


@receiver(mfa_signals.authenticator_reset, dispatch_uid="audit_mfa_reset")
def record_authenticator_reset(sender, request, user, authenticator, **kwargs):
    audit_record(
        action=Action.MFA_RECOVERY_CODES_GENERATED,
        actor=user,
        target=authenticator,
        metadata=_mfa(authenticator),
    )


@receiver(mfa_signals.authenticator_removed, dispatch_uid="audit_mfa_removed")
def record_authenticator_removed(sender, request, user, authenticator, **kwargs):
    # Recovery codes removed alongside the last authenticator are part of the same
    # deactivation, which is recorded once.
    if authenticator.type == Authenticator.Type.RECOVERY_CODES:
        return
    audit_record(
        action=Action.MFA_DEACTIVATED,
        actor=user,
        target_type=authenticator._meta.label_lower,
        target_id=str(authenticator.pk or ""),
        metadata=_mfa(authenticator),
    )


def _mfa(authenticator) -> dict:
    return {"type": str(authenticator.type)}
