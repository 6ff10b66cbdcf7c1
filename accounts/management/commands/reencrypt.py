"""Re-seal every encrypted column under the primary key of ENCRYPTION_KEYS."""

from django.core.management.base import BaseCommand, CommandError

from accounts.crypto import DecryptionError
from accounts.encryption import ReencryptCount, encrypted_values_reencrypt


class Command(BaseCommand):
    help = (
        "Re-encrypt every encrypted field of every model under the primary (first) key "
        "of ENCRYPTION_KEYS. Safe to interrupt and run again. Drop an old key only after "
        "a run that reports nothing left under it."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Decrypt and count, but write nothing.",
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=500,
            help="Rows per transaction (default 500).",
        )

    def handle(self, *args, dry_run=False, batch_size=500, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        verb = "would re-encrypt" if dry_run else "re-encrypted"

        def report(count: ReencryptCount) -> None:
            line = (
                f"{count.model}.{count.field}: {count.scanned} scanned, "
                f"{count.reencrypted} {verb}, {count.current} already current"
            )
            if count.changed_meanwhile:
                line += f", {count.changed_meanwhile} changed meanwhile (already current)"
            self.stdout.write(line)

        try:
            results = encrypted_values_reencrypt(
                batch_size=batch_size, dry_run=dry_run, progress=report
            )
        except DecryptionError as exc:
            raise CommandError(f"{exc} Nothing after this column was touched.") from exc
        total = sum(c.reencrypted for c in results)
        self.stdout.write(
            self.style.SUCCESS(f"Done: {total} values {verb} across {len(results)} columns.")
        )
