from django.apps import AppConfig


class PrivacyConfig(AppConfig):
    name = "privacy"
    verbose_name = "Privacy"

    def ready(self):
        # allauth's sign-in and sign-up signals are its integration points for consent.
        from privacy import auth_events  # noqa: F401
        from privacy.deletion import deletion_ready

        deletion_ready()
