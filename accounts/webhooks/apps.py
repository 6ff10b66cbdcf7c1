from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    """Webhooks sit in the accounts layer so every app above can record events.

    They are an app of their own (label `webhooks`) because their models point at the
    workspace: were they part of the accounts app, `accounts.models` would have to import
    them and they it, an import circle.
    """

    name = "accounts.webhooks"
    label = "webhooks"
    verbose_name = "Webhooks"
    default_auto_field = "django.db.models.BigAutoField"
