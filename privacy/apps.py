from django.apps import AppConfig


class PrivacyConfig(AppConfig):
    name = "privacy"
    verbose_name = "Privacy"

    def ready(self):
        # allauth's sign-in and sign-up signals are its integration points for consent.
        from accounts.services import WORKSPACE_HOOKS
        from privacy import auth_events  # noqa: F401
        from privacy.deletion import services as deletion
        from privacy.exports import services as exports
        from privacy.requests import services as requests

        # Explicit registration (not signals), one way only: a feature lower down calls
        # the hooks of the features above it without importing them.
        hooks = (
            (WORKSPACE_HOOKS["deleted"], deletion.workspace_hook_schedule_deletion),
            (deletion.DELETION_CLOSED_HOOKS, requests.privacy_requests_follow_deletion),
            (exports.EXPORT_READY_HOOKS, requests.privacy_requests_follow_export),
        )
        for registry, hook in hooks:
            if hook not in registry:
                registry.append(hook)
        # Account data whose deletion needs its feature's own code (files on disk).
        deletion.ACCOUNT_DATA_HOOKS.setdefault(
            "privacy.exports", exports.exports_delete_for_account
        )
