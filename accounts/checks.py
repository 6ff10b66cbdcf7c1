"""System checks for how the console is deployed (`manage.py check --deploy`)."""

from django.conf import settings
from django.core.checks import Error, Tags, register

# Backends that print, keep or drop mail instead of delivering it. In production the
# console backend would write every message, one-time links included, to the logs.
UNDELIVERED_EMAIL_BACKENDS = {
    "django.core.mail.backends.console.EmailBackend",
    "django.core.mail.backends.filebased.EmailBackend",
    "django.core.mail.backends.locmem.EmailBackend",
    "django.core.mail.backends.dummy.EmailBackend",
}


@register(Tags.security, deploy=True)
def check_email_backend(app_configs, **kwargs):
    """Refuse a deployment whose email backend never delivers (and may log) mail."""
    if settings.EMAIL_BACKEND in UNDELIVERED_EMAIL_BACKENDS:
        return [
            Error(
                f"EMAIL_BACKEND is {settings.EMAIL_BACKEND}, which does not deliver mail; "
                "the console backend writes every message, one-time links included, "
                "to the logs.",
                hint="Set EMAIL_BACKEND (for example django.core.mail.backends.smtp."
                "EmailBackend) and the EMAIL_HOST settings in the environment.",
                id="accounts.E001",
            )
        ]
    return []
