from django.apps import AppConfig


class PrivacyConfig(AppConfig):
    name = "privacy"
    verbose_name = "Privacy"

    def ready(self):
        # allauth's sign-in and sign-up signals are its integration points for consent.
        from accounts.emails import email_sent_hook_register
        from accounts.services import WORKSPACE_HOOKS
        from privacy import auth_events  # noqa: F401
        from privacy.deletion import services as deletion
        from privacy.exports import services as exports
        from privacy.policies import services as policies
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
        # States that mean "the person was told" are set when the email is sent.
        email_sent_hook_register(
            requests.RECEIVED_EMAIL_KIND, requests.privacy_request_acknowledged
        )
        email_sent_hook_register(deletion.RECEIPT_EMAIL_KIND, deletion.deletion_receipt_sent)
        email_sent_hook_register(policies.NOTICE_EMAIL_KIND, policies.policy_notice_sent)
