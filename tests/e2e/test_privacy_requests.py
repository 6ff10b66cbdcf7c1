"""An access request, from the privacy center to the downloaded ZIP, in chromium."""

import csv
import io
import json
import re
import time
import zipfile

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from apikeys.keys.services import api_key_create
from apikeys.keys.tokens import Environment
from apikeys.usage.models import UsageRecord
from privacy.exports.models import DataExport
from privacy.requests.models import PrivacyRequest, RequestStatus, RequestType
from tests.e2e.browser import age_sign_in, reauthenticate, sign_in
from tests.factories import UserFactory, WorkspaceFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def person():
    """A verified user whose API key made three requests, one with no client IP."""
    user = UserFactory(email="ada@example.com")
    workspace = WorkspaceFactory(owner=user, name="Analytical Engines")
    api_key, _ = api_key_create(
        workspace=workspace,
        actor=user,
        name="notebook",
        environment=Environment.DEVELOPMENT,
        scopes=["inference"],
    )
    now = timezone.now()
    for index, ip in enumerate(["198.51.100.7", "198.51.100.8", None]):
        UsageRecord.objects.create(
            workspace=workspace,
            api_key=api_key,
            request_id=f"req-ada-{index}",
            occurred_at=now,
            model="large-1",
            input_tokens=100 + index,
            output_tokens=10,
            client_ip=ip,
        )
    return user


def test_access_request_exports_a_zip_that_downloads_and_opens(page, context, person, tmp_path):
    sign_in(page, email=person.email)
    age_sign_in(context)

    # Starting a request asks for the password again.
    page.goto("/privacy/requests/new/")
    reauthenticate(page)
    expect(page).to_have_url(re.compile(r"/privacy/requests/new/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("New privacy request")

    page.get_by_label("What would you like us to do?").select_option(RequestType.ACCESS)
    page.get_by_label("Where do you live?").select_option("eea_uk")
    page.get_by_role("button", name="Submit request").click()

    # The request page shows the legal deadline...
    expect(page.get_by_role("heading", level=1)).to_have_text("Access: a copy of my data")
    privacy_request = PrivacyRequest.objects.get(user=person, request_type=RequestType.ACCESS)
    due = privacy_request.due_date
    assert due > timezone.localdate()
    expect(page.locator("dt:text-is('Answer due') + dd")).to_have_text(f"{due.day} {due:%B %Y}")

    # ...and, once the export is ready (the page polls while it runs), a download link.
    link = page.get_by_role("link", name="Download your data (ZIP)")
    expect(link).to_be_visible(timeout=30_000)
    with page.expect_download() as download_info:
        link.click()
    download = download_info.value
    assert download.suggested_filename.endswith(".zip")
    saved = tmp_path / "export.zip"
    download.save_as(saved)

    with zipfile.ZipFile(saved) as archive:
        assert archive.testzip() is None
        names = set(archive.namelist())
        assert {"README.txt", "profile.json", "usage_records.csv"} <= names
        assert "usage_records.csv" in archive.read("README.txt").decode()
        profile = json.loads(archive.read("profile.json"))
        assert [row["email"] for row in profile] == [person.email]
        usage = list(csv.DictReader(io.StringIO(archive.read("usage_records.csv").decode())))
    assert sorted(row["request_id"] for row in usage) == ["req-ada-0", "req-ada-1", "req-ada-2"]
    assert sorted(row["client_ip"] for row in usage) == ["", "198.51.100.7", "198.51.100.8"]

    # The download was recorded, and the export completed the request.
    export = DataExport.objects.get(user=person)
    assert export.downloaded_at is not None
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        privacy_request.refresh_from_db()
        if privacy_request.status == RequestStatus.COMPLETED:
            break
        time.sleep(0.1)
    assert privacy_request.status == RequestStatus.COMPLETED
    assert privacy_request.export_id == export.pk


def test_request_form_is_not_shown_without_the_password_again(page, context, person):
    sign_in(page, email=person.email)
    age_sign_in(context)

    page.goto("/privacy/requests/new/")

    expect(page).to_have_url(re.compile(r"/accounts/reauthenticate/"))
    expect(page.get_by_label("What would you like us to do?")).to_have_count(0)
    assert not PrivacyRequest.objects.filter(user=person).exists()
