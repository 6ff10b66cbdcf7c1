from django.apps import AppConfig


class ApikeysConfig(AppConfig):
    name = "apikeys"
    verbose_name = "API keys and usage"

    def ready(self):
        from accounts.services import WORKSPACE_HOOKS
        from apikeys.keys import verification
        from apikeys.keys.services import api_key_last_used_flush, workspace_hook_invalidate

        # Explicit registration (not signals): settings changes, deletion and changes of
        # who the owners are (their training opt-out) must reach verify at once.
        for event in ("settings_changed", "deleted", "members_changed"):
            if workspace_hook_invalidate not in WORKSPACE_HOOKS[event]:
                WORKSPACE_HOOKS[event].append(workspace_hook_invalidate)
        # Without Redis, the last-used buffer lives in the web process, which writes it.
        verification.EMBEDDED_FLUSH_HOOKS[:] = [api_key_last_used_flush]
