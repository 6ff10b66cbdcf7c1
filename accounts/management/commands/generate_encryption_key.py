"""Print a fresh ENCRYPTION_KEYS entry."""

from django.core.management.base import BaseCommand, CommandError

from accounts.crypto import _KID_RE, generate_key, generate_key_id


class Command(BaseCommand):
    help = (
        "Print a new 'kid:base64key' entry for ENCRYPTION_KEYS. To rotate, put it in "
        "front of the existing entries, deploy, run `manage.py reencrypt`, then drop "
        "the old entry."
    )

    def add_arguments(self, parser):
        parser.add_argument("--kid", help="Key id to use (default: a random one).")

    def handle(self, *args, kid=None, **options):
        kid = kid or generate_key_id()
        if not _KID_RE.match(kid):
            raise CommandError("--kid must be 1-32 letters, digits, '_', '.' or '-'.")
        self.stdout.write(f"{kid}:{generate_key()}")
