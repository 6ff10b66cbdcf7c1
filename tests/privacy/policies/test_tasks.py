"""The policy-notice job: every user emailed once, in batches; acknowledgement recorded."""

from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from accounts.models import User
from privacy.policies.models import PolicyAcceptance, PolicyNotice
from privacy.policies.services import (
    policy_acknowledge,
    policy_version_create,
    policy_version_publish,
)
from privacy.policies.tasks import policy_notices_dispatch
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _publish_material_change(actor, *, days_ahead):
    draft = policy_version_create(
        actor=actor,
        kind="privacy",
        version="2026-01",
        title="Privacy policy",
        body_markdown="## What changed\n\nWe now keep support messages for two years.",
        summary_of_changes="Support messages are kept for two years.",
        material_change=True,
        effective_at=timezone.now() + timedelta(days=days_ahead),
    )
    return policy_version_publish(policy_version=draft, actor=actor)


def test_a_material_change_emails_every_user_once_and_rerunning_sends_nothing(settings):
    settings.POLICY_NOTICE_DAYS = 30
    settings.POLICY_NOTICE_BATCH_SIZE = 2  # several batches for five users
    staff = UserFactory(is_staff=True)
    UserFactory.create_batch(4)
    UserFactory(is_active=False)
    mail.outbox.clear()

    policy = _publish_material_change(staff, days_ahead=31)
    assert mail.outbox == []  # the notice period has not started yet

    with time_machine.travel(timezone.now() + timedelta(days=1, minutes=1)):
        policy_notices_dispatch.delay()
        recipients = sorted(address for message in mail.outbox for address in message.to)
        active = sorted(User.objects.filter(is_active=True).values_list("email", flat=True))
        assert recipients == active
        assert all("2026-01" in message.body for message in mail.outbox)
        assert PolicyNotice.objects.filter(policy_version=policy).count() == len(active)

        policy_notices_dispatch.delay()
        from privacy.policies.tasks import policy_notices_send

        policy_notices_send.delay(policy_version_id=policy.pk)
    assert len(mail.outbox) == len(active)
    policy.refresh_from_db()
    assert policy.notices_completed_at is not None


def test_a_non_material_change_sends_no_email():
    staff = UserFactory(is_staff=True)
    UserFactory.create_batch(2)
    mail.outbox.clear()
    draft = policy_version_create(
        actor=staff,
        kind="cookie",
        version="minor-1",
        title="Cookie policy",
        body_markdown="Typo fixed.",
        effective_at=timezone.now(),
    )
    policy_version_publish(policy_version=draft, actor=staff)
    policy_notices_dispatch.delay()
    assert mail.outbox == []
    assert PolicyNotice.objects.count() == 0


def test_after_the_effective_date_signed_in_users_acknowledge_and_it_is_recorded(client, settings):
    settings.POLICY_NOTICE_DAYS = 30
    staff = UserFactory(is_staff=True)
    person = UserFactory()
    policy = _publish_material_change(staff, days_ahead=30)
    client.force_login(person)
    assert "I acknowledge the new version" not in client.get("/privacy/").content.decode()

    with time_machine.travel(timezone.now() + timedelta(days=30, minutes=5)):
        from privacy.policies.selectors import policy_current_cache_clear

        policy_current_cache_clear()
        client.force_login(person)  # the earlier session has expired by now
        page = client.get("/privacy/").content.decode()
        assert "I acknowledge the new version" in page
        response = client.post(f"/policies/{policy.pk}/acknowledge/", {"next": "/privacy/"})
        assert response.status_code == 302
        acceptance = PolicyAcceptance.objects.get(user=person, policy_version=policy)
        assert acceptance.source == "notice"
        assert "I acknowledge the new version" not in client.get("/privacy/").content.decode()
        # Acknowledging again is harmless.
        policy_acknowledge(user=person, policy_version=policy)
    assert PolicyAcceptance.objects.filter(user=person, policy_version=policy).count() == 1
