import io
import json
import zipfile
from datetime import timedelta

import pytest
from django.apps import apps
from django.core import mail
from django.utils import timezone
from rest_framework.test import APIClient

from apikeys.usage.models import UsageRecord
from privacy.exports.models import DataExport, ExportStatus
from privacy.exports.services import (
    DATASETS,
    EXCLUDED,
    export_download_url,
    export_request,
    export_run,
    exports_expire,
    exports_sweep_orphans,
    registry_labels,
)
from privacy.requests.deadlines import Jurisdiction
from privacy.requests.models import PrivacyRequest, RequestStatus, RequestType
from privacy.requests.services import privacy_request_submit
from tests.factories import UserFactory, WorkspaceFactory, api_key_row

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def _usage(key, count, ip="198.51.100.9"):
    now = timezone.now()
    UsageRecord.objects.bulk_create(
        UsageRecord(
            workspace_id=key.workspace_id,
            api_key=key,
            request_id=f"{key.public_id}-{i}",
            occurred_at=now - timedelta(minutes=i),
            model="qwen-max",
            input_tokens=10,
            output_tokens=20,
            client_ip=ip,
        )
        for i in range(count)
    )


def _open(export) -> zipfile.ZipFile:
    from django.conf import settings

    return zipfile.ZipFile(settings.MEDIA_ROOT / "exports" / export.file_name)


def test_every_model_is_exported_or_excluded_with_a_reason():
    missing = sorted(
        model._meta.label
        for model in apps.get_models()
        if model._meta.label not in registry_labels()
    )
    assert missing == [], (
        f"Add these models to DATASETS or EXCLUDED in privacy/exports.py: {missing}"
    )
    assert all(reason.strip() for reason in EXCLUDED.values())


def test_export_holds_each_dataset_as_json_and_csv_with_a_readme(
    user, django_capture_on_commit_callbacks
):
    workspace = WorkspaceFactory(owner=user)
    key = api_key_row(workspace, created_by=user)
    _usage(key, 12)
    other = UserFactory()
    _usage(api_key_row(WorkspaceFactory(owner=other), created_by=other), 3)

    with django_capture_on_commit_callbacks(execute=True):
        export = export_request(user=user)
    export.refresh_from_db()
    assert export.status == ExportStatus.READY
    assert export.rows_done == export.rows_total > 12
    with _open(export) as archive:
        names = set(archive.namelist())
        for dataset in DATASETS:
            assert f"{dataset.name}.json" in names
            assert (f"{dataset.name}.csv" in names) == dataset.table
        readme = archive.read("README.txt").decode()
        assert "usage_records.csv" in readme and "never included" in readme
        usage = json.loads(archive.read("usage_records.json"))
        assert len(usage) == 12  # only this person's keys
        assert usage[0]["client_ip"] == "198.51.100.9"
        csv_rows = archive.read("usage_records.csv").decode().strip().splitlines()
        assert len(csv_rows) == 13
        keys = json.loads(archive.read("api_keys.json"))
        assert [k["public_id"] for k in keys] == [key.public_id]
        everything = b"".join(archive.read(name) for name in names)
        assert b"secret_hash" not in everything and b"f" * 64 not in everything
        assert user.password.encode() not in everything
        profile = json.loads(archive.read("profile.json"))
        assert profile[0]["email"] == user.email and profile[0]["name"] == user.name
        manifest = json.loads(archive.read("manifest.json"))
        assert manifest["rows"]["usage_records"] == 12
    assert any("Your data export is ready" in m.subject for m in mail.outbox)


def test_running_the_job_twice_is_harmless(user):
    export = DataExport.objects.create(user=user)
    assert export_run(export_id=export.pk) is not None
    assert export_run(export_id=export.pk) is None  # already done: nothing claimed
    export.refresh_from_db()
    assert export.status == ExportStatus.READY and export.attempts == 1


def test_access_request_starts_an_export_and_completes_when_ready(
    user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        request = privacy_request_submit(
            user=user, request_type=RequestType.ACCESS, jurisdiction=Jurisdiction.EEA_UK
        )
    request = PrivacyRequest.objects.get(pk=request.pk)
    assert request.export_id is not None
    assert request.status == RequestStatus.COMPLETED
    assert DataExport.objects.get(pk=request.export_id).status == ExportStatus.READY


def test_download_is_for_the_owner_only_and_signed(client, user):
    export = DataExport.objects.create(user=user)
    export = export_run(export_id=export.pk)
    url = export_download_url(export)
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    body = b"".join(response.streaming_content)
    assert zipfile.ZipFile(io.BytesIO(body)).testzip() is None
    tampered = url.replace(str(export.pk)[:8], "00000000")
    assert client.get(tampered).status_code == 404
    client.force_login(UserFactory())
    assert client.get(url).status_code == 404
    client.logout()
    assert client.get(url).status_code == 302  # sign in first


def test_api_download_for_owner_only(user):
    export = export_run(export_id=DataExport.objects.create(user=user).pk)
    api = APIClient()
    api.force_authenticate(user)
    response = api.get(f"/api/v1/privacy/exports/{export.pk}/download")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    api.force_authenticate(UserFactory())
    denied = api.get(f"/api/v1/privacy/exports/{export.pk}/download")
    assert denied.status_code == 404
    assert denied.json()["error"]["code"] == "not_found"


def test_expiry_deletes_the_file_and_the_link_stops_working(client, user, settings):
    export = export_run(export_id=DataExport.objects.create(user=user).pk)
    path = settings.MEDIA_ROOT / "exports" / export.file_name
    assert path.exists()
    assert exports_expire(now=timezone.now() + timedelta(days=6)) == 0
    assert exports_expire(now=timezone.now() + timedelta(days=7, seconds=1)) == 1
    assert not path.exists()
    export.refresh_from_db()
    assert export.status == ExportStatus.EXPIRED
    client.force_login(user)
    assert client.get(export_download_url(export)).status_code == 409


def _plant(folder, name: str, *, age: timedelta):
    import os

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(b"PK\x05\x06" + b"\x00" * 18)
    moment = (timezone.now() - age).timestamp()
    os.utime(path, (moment, moment))
    return path


def test_sweep_deletes_old_files_no_export_owns_and_keeps_owned_and_young_ones(user, settings):
    import uuid

    folder = settings.MEDIA_ROOT / "exports"
    export = export_run(export_id=DataExport.objects.create(user=user).pk)
    owned = folder / export.file_name
    old = timedelta(hours=2)
    orphan = _plant(folder, f"{uuid.uuid4()}.zip", age=old)
    stray = _plant(folder, "notes.txt", age=old)
    young = _plant(folder, f"{uuid.uuid4()}.zip.partial", age=timedelta(minutes=1))
    failed = DataExport.objects.create(user=user, status=ExportStatus.FAILED)
    leftover = _plant(folder, f"{failed.pk}.zip.partial", age=old)
    building = DataExport.objects.create(user=user, status=ExportStatus.RUNNING)
    in_progress = _plant(folder, f"{building.pk}.zip.partial", age=old)
    _plant(folder, export.file_name, age=old)  # the ready export's own file, aged

    assert exports_sweep_orphans() == 3

    assert not orphan.exists() and not stray.exists() and not leftover.exists()
    assert owned.exists() and young.exists() and in_progress.exists()
    assert exports_sweep_orphans() == 0


def test_sweep_deletes_the_file_of_an_expired_export_left_behind(user, settings):
    export = export_run(export_id=DataExport.objects.create(user=user).pk)
    name = export.file_name
    DataExport.objects.filter(pk=export.pk).update(status=ExportStatus.EXPIRED, file_name="")
    path = _plant(settings.MEDIA_ROOT / "exports", name, age=timedelta(days=1))

    assert exports_sweep_orphans() == 1
    assert not path.exists()


def test_sweep_waits_for_the_minimum_age(user, settings):
    import uuid

    settings.EXPORT_ORPHAN_MIN_AGE_MINUTES = 30
    folder = settings.MEDIA_ROOT / "exports"
    fresh = _plant(folder, f"{uuid.uuid4()}.zip", age=timedelta(minutes=20))
    assert exports_sweep_orphans() == 0
    assert fresh.exists()
    assert exports_sweep_orphans(now=timezone.now() + timedelta(minutes=11)) == 1
    assert not fresh.exists()


def test_a_file_finished_after_its_row_was_deleted_is_removed(user, settings):
    from privacy.exports.services import export_build_file, export_claim

    export = export_claim(export_id=DataExport.objects.create(user=user).pk)
    path = export_build_file(export=export)
    DataExport.objects.filter(pk=export.pk).delete()  # the account went meanwhile

    from privacy.exports.services import _export_finish

    assert _export_finish(export=export, path=path) is None
    assert not path.exists()


def test_audit_events_leave_out_the_address_and_browser_of_others_who_acted(user):
    from accounts.audit import Action, audit_record

    staff = UserFactory(is_staff=True)
    audit_record(
        action=Action.PROFILE_UPDATED, actor=user, ip_address="203.0.113.1", user_agent="Mine/1.0"
    )
    audit_record(
        action="privacy_request.verified",
        actor=staff,
        subject_user=user,
        ip_address="198.51.100.77",
        user_agent="StaffBrowser/9.9",
    )
    audit_record(
        action=Action.LOGIN_FAILED,
        subject_user=user,
        actor_email="",
        ip_address="192.0.2.66",
        user_agent="Guesser/0.1",
    )

    export = export_run(export_id=DataExport.objects.create(user=user).pk)

    with _open(export) as archive:
        everything = b"".join(archive.read(name) for name in archive.namelist())
        events = {e["action"]: e for e in json.loads(archive.read("audit_events.json"))}
        csv_text = archive.read("audit_events.csv").decode()
    assert b"198.51.100.77" not in everything and b"StaffBrowser" not in everything
    assert staff.email.encode() not in everything
    staff_event = events["privacy_request.verified"]
    assert staff_event["ip_address"] is None and staff_event["user_agent"] == ""
    own = events[Action.PROFILE_UPDATED]
    assert (own["ip_address"], own["user_agent"]) == ("203.0.113.1", "Mine/1.0")
    # Failed sign-ins against the account stay as the activity page shows them.
    failed = events[Action.LOGIN_FAILED]
    assert (failed["ip_address"], failed["user_agent"]) == ("192.0.2.66", "Guesser/0.1")
    assert "192.0.2.66" in csv_text and "203.0.113.1" in csv_text
