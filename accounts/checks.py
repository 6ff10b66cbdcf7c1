"""System checks for settings that would otherwise fail quietly."""

from django.core import checks

from accounts.client_address import invalid_trusted_proxies


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
