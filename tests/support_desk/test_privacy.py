"""Support data in the data export, the retention run and the account deletion."""

import json
import os
import time
import zipfile
from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.core import mail
from django.utils import timezone

from privacy.deletion.models import DeletionRequest
from privacy.deletion.services import account_deletion_request, deletion_run
from privacy.exports.models import ExportStatus
from privacy.exports.services import export_request
from privacy.retention.services import retention_run, retention_unclassified
from support import files
from support.models import Status, SupportAttachment, SupportMessage, SupportRequest
from support.services import (
    support_note_add,
    support_request_close,
    support_request_create,
    support_request_submit_public,
    support_staff_reply,
)
from tests.factories import UserFactory

from .conftest import PNG, png

pytestmark = pytest.mark.django_db


def _open(user, **kwargs):
    fields = {"subject": "Help", "category": "other", "message": "My message."}
    return support_request_create(user=user, **{**fields, **kwargs})


def test_every_support_model_has_a_retention_rule():
    assert not [label for label in retention_unclassified() if label.startswith("support.")]


def test_the_export_holds_requests_visible_messages_and_attachment_files(
    user, django_capture_on_commit_callbacks
):
    request = _open(user, subject="Exported subject", attachments=[png()])
    staff = UserFactory(is_staff=True)
    support_staff_reply(request=request, actor=staff, message="Staff answer.")
    support_note_add(request=request, actor=staff, text="NOTE-NOT-EXPORTED")
    _open(UserFactory(), subject="Someone else's")
    with django_capture_on_commit_callbacks(execute=True):
        export = export_request(user=user)
    export.refresh_from_db()
    assert export.status == ExportStatus.READY
    path = settings.MEDIA_ROOT / "exports" / export.file_name
    with zipfile.ZipFile(path) as archive:
        requests = json.loads(archive.read("support_requests.json"))
        assert [r["subject"] for r in requests] == ["Exported subject"]
        messages = json.loads(archive.read("support_messages.json"))
        assert [m["body"] for m in messages] == ["My message.", "Staff answer."]
        everything = b"".join(archive.read(name) for name in archive.namelist())
        assert b"NOTE-NOT-EXPORTED" not in everything
        attachment = SupportAttachment.objects.get()
        assert archive.read(f"support_attachments/{attachment.pk}-screenshot.png") == PNG


def test_retention_purges_closed_requests_after_the_period_with_their_files(user, settings):
    settings.SUPPORT_RETENTION_DAYS = 30
    with time_machine.travel(timezone.now() - timedelta(days=40), tick=False):
        old = _open(user, attachments=[png()])
        support_request_close(request=old, user=user)
    recent = _open(user, attachments=[png()])
    support_request_close(request=recent, user=user)
    still_open = _open(user)
    old_file = files.path_for(old.attachments.get().pk)
    recent_file = files.path_for(recent.attachments.get().pk)
    assert old_file.exists() and recent_file.exists()
    run = retention_run()
    assert run.counts.get("support") == 1
    assert not SupportRequest.objects.filter(pk=old.pk).exists()
    assert not SupportMessage.objects.filter(request_id=old.pk).exists()
    assert not old_file.exists()
    assert recent_file.exists()
    assert set(SupportRequest.objects.values_list("pk", flat=True)) == {recent.pk, still_open.pk}


def test_retention_expires_unconfirmed_public_requests_and_sweeps_orphan_files(settings):
    with time_machine.travel(timezone.now() - timedelta(days=3), tick=False):
        support_request_submit_public(
            email="n@example.com", name="", reason="other", subject="s", message="m"
        )
    orphan = files.folder() / "3f1b0f0e-1111-4222-8333-944455556666.bin"
    orphan.write_bytes(b"enc1:x")
    old = time.time() - 7200
    os.utime(orphan, (old, old))
    retention_run()
    assert SupportRequest.objects.count() == 0
    assert not orphan.exists()


def test_account_deletion_deletes_requests_and_anonymises_abuse_reports(
    user, django_capture_on_commit_callbacks
):
    ordinary = _open(user, attachments=[png()])
    report = _open(user, category="abuse", subject="Leaked key seen", attachments=[png()])
    files_before = [files.path_for(a.pk) for a in SupportAttachment.objects.all()]
    deletion = account_deletion_request(user=user, grace_days=0)
    DeletionRequest.objects.filter(pk=deletion.pk).update(
        scheduled_for=timezone.now() - timedelta(seconds=1)
    )
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(100):
            if deletion_run(deletion_id=deletion.pk) != "yielded":
                break
    assert not SupportRequest.objects.filter(pk=ordinary.pk).exists()
    kept = SupportRequest.objects.get(pk=report.pk)
    assert kept.user_id is None and kept.email == "" and kept.name == ""
    assert kept.status == Status.CLOSED and kept.closed_at is not None
    assert not SupportAttachment.objects.exists()
    assert not any(path.exists() for path in files_before)
    deletion.refresh_from_db()
    deleted = deletion.receipt["deleted"]
    assert deleted.get("support.SupportRequest (deleted)") == 1
    assert deleted.get("support.SupportRequest (anonymised)") == 1
    receipt = next(m for m in mail.outbox if "support" in m.body.lower())
    assert "Abuse and security reports you sent" in receipt.body
