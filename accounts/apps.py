from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and workspaces"

    def ready(self):
        # allauth signals are allauth's public integration points for audit events.
        from accounts import auth_events, checks  # noqa: F401
