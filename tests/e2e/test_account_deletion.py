"""Delete the account, cancel in the grace period, delete again: in chromium."""

import re
from datetime import timedelta

import pytest
from django.conf import settings
from playwright.sync_api import expect

from accounts.models import User
from privacy.deletion.models import DeletionKind, DeletionRequest, DeletionStatus
from tests.e2e.browser import age_sign_in, reauthenticate, sign_in
from tests.factories import UserFactory, WorkspaceFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def person():
    user = UserFactory(email="grace@example.com")
    WorkspaceFactory(owner=user, name="Solo Lab")
    return user


def _ledger(user):
    return DeletionRequest.objects.filter(kind=DeletionKind.ACCOUNT, target_id=str(user.pk))


def _request_deletion(page) -> None:
    page.get_by_label("Type delete my account to confirm").fill("delete my account")
    page.get_by_role("button", name="Delete my account").click()


PENDING = "Your account is scheduled for deletion"


def _pending_card(page):
    """The deletion page's own account of the pending deletion."""
    return page.get_by_role("status").filter(has=page.get_by_role("heading", name=PENDING))


def _expect_pending(page, deletion) -> None:
    when = f"{deletion.scheduled_for.day} {deletion.scheduled_for:%B %Y, %H:%M} UTC"
    card = _pending_card(page)
    expect(card).to_contain_text(when)
    expect(card.get_by_role("button", name="Cancel the deletion")).to_be_visible()
    # Every other page offers to cancel too, until the grace period is over.
    page.goto("/")
    banner = page.get_by_role("alert").filter(has=page.get_by_role("heading", name=PENDING))
    expect(banner).to_contain_text(when)
    page.goto("/account/delete/")


def test_delete_cancel_and_delete_again(page, context, person, mailoutbox):
    grace = timedelta(days=settings.ACCOUNT_DELETION_GRACE_DAYS)
    sign_in(page, email=person.email)
    age_sign_in(context)

    # The page asks for the password again, then says plainly what will happen.
    page.goto("/account/delete/")
    reauthenticate(page)
    expect(page).to_have_url(re.compile(r"/account/delete/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Delete your account")
    expect(page.get_by_text(f"grace period of {grace.days} days")).to_be_visible()
    expect(page.get_by_role("listitem").filter(has_text="Solo Lab").last).to_be_visible()

    # Without the confirmation phrase nothing is scheduled.
    page.get_by_role("button", name="Delete my account").click()
    expect(page.get_by_text('Type "delete my account" to confirm.')).to_be_visible()
    assert not _ledger(person).exists()

    # Delete: a pending ledger row, with the grace period, and a mail with a cancel link.
    _request_deletion(page)
    expect(_pending_card(page)).to_be_visible()
    first = _ledger(person).get()
    assert first.status == DeletionStatus.PENDING
    assert first.scheduled_for == first.requested_at + grace
    _expect_pending(page, first)
    assert any(
        person.email in message.to and "/account/delete/cancel/" in message.body
        for message in mailoutbox
    )

    # Cancel: the account is active again and the deletion form is back.
    _pending_card(page).get_by_role("button", name="Cancel the deletion").click()
    expect(
        page.get_by_text("The deletion is cancelled. Your account stays as it is.")
    ).to_be_visible()
    expect(page.get_by_role("button", name="Delete my account")).to_be_visible()
    expect(page.get_by_role("heading", name=PENDING)).to_have_count(0)
    first.refresh_from_db()
    assert first.status == DeletionStatus.CANCELLED
    assert first.cancelled_at is not None
    assert User.objects.get(pk=person.pk).is_active
    page.goto("/")
    expect(page).not_to_have_url(re.compile(r"/accounts/login/"))
    expect(page.get_by_role("heading", name=PENDING)).to_have_count(0)

    # Delete again: a new pending row with a fresh grace period; the cancelled one stays.
    page.goto("/account/delete/")
    _request_deletion(page)
    expect(_pending_card(page)).to_be_visible()
    second = _ledger(person).filter(status=DeletionStatus.PENDING).get()
    assert second.pk != first.pk
    assert second.scheduled_for == second.requested_at + grace
    assert second.requested_at > first.requested_at
    _expect_pending(page, second)
    assert list(_ledger(person).order_by("requested_at").values_list("status", flat=True)) == [
        DeletionStatus.CANCELLED,
        DeletionStatus.PENDING,
    ]
    assert User.objects.get(pk=person.pk).is_active
