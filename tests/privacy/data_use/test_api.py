"""REST: /api/v1/privacy/settings/ and /api/v1/privacy/consent/."""

import pytest

from privacy.data_use.models import PrivacySettings

pytestmark = pytest.mark.django_db


SETTINGS_URL = "/api/v1/privacy/settings/"


CONSENT_URL = "/api/v1/privacy/consent/"


def test_settings_read_and_update(client, user):
    client.force_login(user)
    body = client.get(SETTINGS_URL).json()
    assert body["training_opt_out"] is False
    assert body["processing_restricted"] is False
    response = client.patch(
        SETTINGS_URL, {"training_opt_out": True}, content_type="application/json"
    )
    assert response.status_code == 200
    assert response.json()["training_opt_out"] is True
    assert PrivacySettings.objects.get(user=user).training_opt_out is True


@pytest.mark.parametrize(
    "payload",
    [
        {"processing_restricted": False},
        {"training_opt_out": "perhaps"},
        ["training_opt_out"],
        {"training_opt_out": True, "unknown": 1},
    ],
)
def test_bad_settings_input_is_a_400_in_the_error_format_and_changes_nothing(client, user, payload):
    PrivacySettings.objects.create(user=user, processing_restricted=True)
    client.force_login(user)
    response = client.patch(SETTINGS_URL, payload, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    row = PrivacySettings.objects.get(user=user)
    assert (row.processing_restricted, row.training_opt_out) == (True, False)


def test_settings_need_a_signed_in_user(client):
    assert client.get(SETTINGS_URL).status_code in (401, 403)
