"""System checks for settings that would otherwise fail quietly, and for how the console
is deployed (`manage.py check --deploy`)."""

from django.conf import settings
from django.core import checks

from accounts.client_address import invalid_trusted_proxies

# Backends that print, keep or drop mail instead of delivering it. In production the
# console backend would write every message, one-time links included, to the logs.
UNDELIVERED_EMAIL_BACKENDS = {
    "django.core.mail.backends.console.EmailBackend",
    "django.core.mail.backends.filebased.EmailBackend",
    "django.core.mail.backends.locmem.EmailBackend",
    "django.core.mail.backends.dummy.EmailBackend",
}


@checks.register(checks.Tags.security, deploy=True)
def check_email_backend(app_configs, **kwargs):
    """Refuse a deployment whose email backend never delivers (and may log) mail."""
    if settings.EMAIL_BACKEND in UNDELIVERED_EMAIL_BACKENDS:
        return [
            checks.Error(
                f"EMAIL_BACKEND is {settings.EMAIL_BACKEND}, which does not deliver mail; "
                "the console backend writes every message, one-time links included, "
                "to the logs.",
                hint="Set EMAIL_BACKEND (for example django.core.mail.backends.smtp."
                "EmailBackend) and the EMAIL_HOST settings in the environment.",
                id="accounts.E010",
            )
        ]
    return []


@checks.register(checks.Tags.security, deploy=False)
def trusted_proxies_check(app_configs, **kwargs):
    """Warn about `TRUSTED_PROXIES` entries that are not IP networks (they are ignored)."""
    return [
        checks.Warning(
            f"TRUSTED_PROXIES entry {entry!r} is not an IP address or network; it is ignored.",
            hint="Use CIDRs such as 10.0.0.0/8 or 127.0.0.1/32, comma-separated.",
            id="accounts.W001",
        )
        for entry in invalid_trusted_proxies()
    ]
