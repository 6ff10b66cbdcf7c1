"""Walk the audit chain; name the first broken link and exit non-zero."""

import sys

from django.core.management.base import BaseCommand

from accounts.audit import audit_chain_verify


class Command(BaseCommand):
    help = "Verify the hash chain of the audit log."

    def handle(self, *args, **options):
        checked, broken = audit_chain_verify()
        if broken is not None:
            self.stderr.write(
                f"Audit chain broken at event {broken.event_id}: {broken.reason} "
                f"({checked} events before it verified)."
            )
            sys.exit(1)
        self.stdout.write(f"Audit chain intact: {checked} events verified.")
