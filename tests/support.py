"""Clients and steps the tests share."""

import time

from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, generate_totp_secret, hotp_value
from django.test import Client


def with_totp(user) -> str:
    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    return secret


def totp_code(secret: str) -> str:
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30))


def admin_client_with_mfa(user) -> Client:
    """A client signed in as `user` with TOTP set up and MFA completed in the session."""
    with_totp(user)
    client = Client()
    client.force_login(user)
    session = client.session
    now = time.time()
    session["account_authentication_methods"] = [
        {"method": "password", "at": now, "email": user.email},
        {"method": "mfa", "at": now, "type": "totp"},
    ]
    session["account_authentication_methods_user"] = str(user.pk)
    session.save()
    return client


def api_client_signed_in(user, *, reauthenticated_seconds_ago: float | None = 0):
    """A REST client with a session; its password was confirmed again (allauth's
    re-authentication) `reauthenticated_seconds_ago`, or never when None."""
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_login(user)
    session = client.session
    now = time.time()
    records = [{"method": "password", "at": now - 7200, "email": user.email}]
    if reauthenticated_seconds_ago is not None:
        at = now - reauthenticated_seconds_ago
        records.append({"method": "password", "at": at, "reauthenticated": True})
    session["account_authentication_methods"] = records
    session["account_authentication_methods_user"] = str(user.pk)
    session.save()
    return client
