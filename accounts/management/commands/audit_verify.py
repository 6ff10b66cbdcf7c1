"""Walk the audit chain against its checkpoints; name the first break and exit non-zero."""

import json
import sys

from django.core.management.base import BaseCommand, CommandError

from accounts.audit import audit_chain_verify


def _read_expected(path: str) -> list[dict]:
    """Read checkpoint records kept outside: JSON lines, or the checkpoint log lines."""
    records = []
    with open(path, encoding="utf-8") as file:
        for number, line in enumerate(file, start=1):
            start = line.find("{")
            if start < 0:
                continue
            try:
                record = json.loads(line[start:])
            except json.JSONDecodeError as exc:
                raise CommandError(f"{path}:{number}: not a checkpoint record ({exc}).") from exc
            if not isinstance(record, dict) or "checkpoint_id" not in record:
                raise CommandError(f"{path}:{number}: not a checkpoint record.")
            records.append(record)
    return records


class Command(BaseCommand):
    help = (
        "Verify the audit log: every event's keyed hash and link, the checkpoints' seals, "
        "and the chain against every checkpoint (a deleted tail or middle, an edited row)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--expect",
            metavar="FILE",
            help="Checkpoint records held outside the database (the lines of the "
            "console.audit.checkpoint logger, or their JSON); each must still be in the "
            "checkpoint table, unchanged, and the chain must match it.",
        )

    def handle(self, *args, expect=None, **options):
        expected = _read_expected(expect) if expect else []
        checked, broken = audit_chain_verify(expected=expected)
        if broken is not None:
            self.stderr.write(
                f"Audit log broken at {broken.where()}: {broken.reason} "
                f"({checked} events before it verified)."
            )
            sys.exit(1)
        self.stdout.write(f"Audit chain intact: {checked} events verified.")
