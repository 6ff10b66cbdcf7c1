"""List accounts that share one mailbox under the address rules, and addresses they refuse."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from allauth.account.models import EmailAddress
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from accounts.validators import email_collision_key, email_normalise


@dataclass
class _Account:
    pk: int
    email: str = ""
    date_joined: str = ""
    is_active: bool = True
    addresses: set[str] = field(default_factory=set)
    verified: set[str] = field(default_factory=set)


class Command(BaseCommand):
    help = (
        "List existing accounts whose addresses (the login address and every allauth "
        "address) reach the same mailbox under the current rules: Unicode normalisation, "
        "IDNA domains, lower case, quotes removed. Also list stored addresses that the "
        "rules now refuse. Reads only; resolving a collision is a support decision."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--check",
            action="store_true",
            help="Exit with an error status when any collision is found.",
        )

    def handle(self, *args, check=False, **options):
        accounts: dict[int, _Account] = {}
        for pk, email, joined, active in User.objects.values_list(
            "pk", "email", "date_joined", "is_active"
        ).iterator(chunk_size=2000):
            accounts[pk] = _Account(
                pk=pk, email=email, date_joined=f"{joined:%Y-%m-%d}", is_active=active
            )
            accounts[pk].addresses.add(email)
        for user_id, email, verified in EmailAddress.objects.values_list(
            "user_id", "email", "verified"
        ).iterator(chunk_size=2000):
            account = accounts.get(user_id)
            if account is None:
                continue
            account.addresses.add(email)
            if verified:
                account.verified.add(email)

        by_mailbox: dict[str, set[int]] = defaultdict(set)
        refused: list[tuple[_Account, str, str]] = []
        for account in accounts.values():
            for address in account.addresses:
                by_mailbox[email_collision_key(address)].add(account.pk)
                try:
                    email_normalise(address)
                except ValidationError as exc:
                    refused.append((account, address, exc.messages[0]))

        collisions = {key: pks for key, pks in by_mailbox.items() if len(pks) > 1}
        if collisions:
            self.stdout.write("Accounts sharing one mailbox:")
        for key in sorted(collisions):
            self.stdout.write(f"\nmailbox {key!a}")
            for pk in sorted(collisions[key]):
                account = accounts[pk]
                spellings = sorted(a for a in account.addresses if email_collision_key(a) == key)
                # ascii() shows look-alike letters as escapes: a Cyrillic a reads \u0430.
                for spelling in spellings:
                    state = "verified" if spelling in account.verified else "unverified"
                    self.stdout.write(
                        f"  user {pk}  {spelling!a}  joined {account.date_joined}  "
                        f"{'active' if account.is_active else 'inactive'}  {state}"
                    )
        if refused:
            self.stdout.write("\nStored addresses the current rules refuse:")
            for account, address, reason in sorted(refused, key=lambda r: (r[0].pk, r[1])):
                self.stdout.write(f"  user {account.pk}  {address!a}  {reason}")

        sharing = sum(len(pks) for pks in collisions.values())
        summary = (
            f"{len(collisions)} mailbox(es) shared by {sharing} account(s); "
            f"{len(refused)} stored address(es) refused by the current rules."
        )
        if collisions and check:
            raise CommandError(summary)
        style = self.style.WARNING if collisions or refused else self.style.SUCCESS
        self.stdout.write(style(("\n" if collisions or refused else "") + summary))
