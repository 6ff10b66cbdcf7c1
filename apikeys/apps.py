from django.apps import AppConfig


class ApikeysConfig(AppConfig):
    name = "apikeys"
    verbose_name = "API keys and usage"

    def ready(self):
        from accounts.services import WORKSPACE_HOOKS
        from apikeys.services import workspace_hook_invalidate

        # Explicit registration (not signals): settings changes, deletion and changes of
        # who the owners are (their training opt-out) must reach verify at once.
        for event in ("settings_changed", "deleted", "members_changed"):
            if workspace_hook_invalidate not in WORKSPACE_HOOKS[event]:
                WORKSPACE_HOOKS[event].append(workspace_hook_invalidate)
