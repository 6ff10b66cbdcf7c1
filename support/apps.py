from django.apps import AppConfig


class SupportConfig(AppConfig):
    name = "support"
    verbose_name = "Support"

    def ready(self):
        from accounts.views.account import ACTION_LABELS
        from privacy.deletion.services import ACCOUNT_DATA_HOOKS, deletion_register_kept
        from privacy.exports.services import (
            EXPORT_FILE_HOOKS,
            Dataset,
            export_register_dataset,
            export_register_excluded,
        )
        from privacy.retention.services import RETENTION, Action, RetentionRule
        from support import services

        # Support communications are kept 2 to 3 years (the privacy policy): by default
        # SUPPORT_RETENTION_DAYS (3 years) after the request was closed.
        RETENTION.setdefault(
            "support.SupportRequest",
            RetentionRule(
                category="support",
                period=(
                    "SUPPORT_RETENTION_DAYS (3 years) after closing, with its files; a public "
                    "request never confirmed, once its link is twice its lifetime old"
                ),
                action=Action.PURGE,
                days=3 * 365,
                age_field="closed_at",
                purge=services.support_requests_purge,
            ),
        )
        for label, what in (
            ("support.SupportMessage", "with its support request"),
            ("support.SupportAttachment", "with its support request, file included"),
        ):
            RETENTION.setdefault(
                label,
                RetentionRule(category="support", period=what, action=Action.WITH_ACCOUNT),
            )

        def rows(label, filters):
            from django.apps import apps

            return lambda user: apps.get_model(label).objects.filter(**filters(user))

        export_register_dataset(
            Dataset(
                "support_requests",
                "support.SupportRequest",
                "Your support requests: subject, category, status and dates.",
                ("id", "subject", "category", "status", "workspace_id", "created_at", "closed_at"),
                rows("support.SupportRequest", lambda user: {"user": user}),
            )
        )
        export_register_dataset(
            Dataset(
                "support_messages",
                "support.SupportMessage",
                "The messages of your support requests, yours and our replies (never "
                "internal staff notes).",
                ("request_id", "from_staff", "body", "created_at"),
                rows(
                    "support.SupportMessage",
                    lambda user: {"request__user": user, "internal": False},
                ),
            )
        )
        export_register_dataset(
            Dataset(
                "support_attachments",
                "support.SupportAttachment",
                "Files attached to your support requests; the files themselves are in "
                "the support_attachments folder.",
                ("id", "request_id", "file_name", "content_type", "size", "created_at"),
                rows(
                    "support.SupportAttachment",
                    lambda user: {"request__user": user, "message__internal": False},
                ),
            )
        )
        export_register_excluded(
            "support.SupportMessage.internal", "internal staff notes are not exported"
        )
        if services.support_export_files not in EXPORT_FILE_HOOKS:
            EXPORT_FILE_HOOKS.append(services.support_export_files)
        # The name is stored in deletion plans: it never changes.
        ACCOUNT_DATA_HOOKS.setdefault("support.requests", services.support_data_delete_for_account)
        deletion_register_kept(
            "Abuse and security reports you sent",
            "Kept without your name, email address or files until three years after they "
            "were closed: they may concern someone else's key or content.",
        )
        for action, label in (
            (services.SupportAction.CREATED, "Support request opened"),
            (services.SupportAction.REPLIED, "Replied to a support request"),
            (services.SupportAction.STAFF_REPLIED, "Support replied to your request"),
            (services.SupportAction.CLOSED, "Support request closed"),
            (services.SupportAction.CONFIRMED, "Support request confirmed by email"),
            (services.SupportAction.STATUS_CHANGED, "Support request status changed"),
            (services.SupportAction.ACCOUNT_VIEWED, "Support staff viewed your account"),
        ):
            ACTION_LABELS.setdefault(action, label)
