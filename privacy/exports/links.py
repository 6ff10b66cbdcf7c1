"""The signed, expiring download link of an export.

Models and services both need it, and neither may import the other's side of it.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.urls import reverse

_SIGNER_SALT = "privacy.export.download"


def export_download_url(export) -> str:
    token = signing.TimestampSigner(salt=_SIGNER_SALT).sign(str(export.pk))
    return reverse("privacy_export_download", kwargs={"token": token})


def export_id_from_token(token: str) -> str | None:
    """The export id a download token was signed for; None when forged or expired."""
    try:
        return signing.TimestampSigner(salt=_SIGNER_SALT).unsign(
            token, max_age=timedelta(days=settings.EXPORT_TTL_DAYS)
        )
    except signing.BadSignature:
        return None
