from django.apps import AppConfig


class PrivacyConfig(AppConfig):
    name = "privacy"
    verbose_name = "Privacy"

    def ready(self):
        # allauth's sign-in and sign-up signals are its integration points for consent.
        from accounts.emails import email_bulk_kind_register, email_sent_hook_register
        from accounts.services import WORKSPACE_HOOKS
        from privacy import auth_events  # noqa: F401
        from privacy.deletion import services as deletion
        from privacy.exports import services as exports
        from privacy.policies import services as policies
        from privacy.processors import services as processors
        from privacy.requests import services as requests
        from privacy.retention.services import retention_register_purger

        # Explicit registration (not signals), one way only: a feature lower down calls
        # the hooks of the features above it without importing them.
        hooks = (
            (WORKSPACE_HOOKS["deleted"], deletion.workspace_hook_schedule_deletion),
            (deletion.DELETION_CLOSED_HOOKS, requests.privacy_requests_follow_deletion),
            (exports.EXPORT_READY_HOOKS, requests.privacy_requests_follow_export),
            (
                processors.PROCESSOR_ACTIONS_SETTLED_HOOKS,
                requests.privacy_requests_follow_processors,
            ),
        )
        for registry, hook in hooks:
            if hook not in registry:
                registry.append(hook)
        # Account data whose deletion needs its feature's own code (files on disk, open
        # requests to close) and a purger that first expires unconfirmed requests.
        deletion.ACCOUNT_DATA_HOOKS.setdefault(
            "privacy.exports", exports.exports_delete_for_account
        )
        deletion.ACCOUNT_DATA_HOOKS.setdefault(
            "privacy.requests", requests.privacy_requests_close_for_deleted_account
        )
        retention_register_purger("privacy.PrivacyRequest", requests.privacy_requests_purge)
        # States that mean "the person was told" are set when the email is sent.
        email_sent_hook_register(
            requests.RECEIVED_EMAIL_KIND, requests.privacy_request_acknowledged
        )
        email_sent_hook_register(deletion.RECEIPT_EMAIL_KIND, deletion.deletion_receipt_sent)
        email_sent_hook_register(policies.NOTICE_EMAIL_KIND, policies.policy_notice_sent)
        email_bulk_kind_register(policies.NOTICE_EMAIL_KIND)
        # How processors' steps of a person's requests read on their activity page.
        from accounts.views.account import ACTION_LABELS

        steps = processors.ProcessorAuditAction
        for action, label in (
            (steps.ACTION_CREATED, "Privacy request passed to a processor"),
            (steps.ACTION_SENT, "Privacy request sent to a processor"),
            (steps.ACTION_RECEIVED, "A processor received your privacy request"),
            (steps.ACTION_COMPLETED, "A processor carried out your privacy request"),
            (steps.ACTION_REFUSED, "A processor refused your privacy request"),
            (steps.ACTION_OVERRIDDEN, "Our privacy team settled a processor's step"),
            (steps.ACTION_CANCELLED, "A processor's step was cancelled"),
            (steps.ACTION_REMINDED, "A processor was reminded of your privacy request"),
        ):
            ACTION_LABELS.setdefault(action, label)
