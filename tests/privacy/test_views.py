"""HTML pages: banner, cookie settings, policy pages, sign-up acceptance, settings pages."""

import pytest

from tests.privacy.policy_support import policies_in_force

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def policies(db):
    return policies_in_force()


def test_privacy_center_links_settings_cookies_and_history(client, user):
    client.force_login(user)
    page = client.get("/privacy/").content.decode()
    for url in ("/privacy/settings/", "/privacy/cookies/", "/privacy/cookies/history/"):
        assert f'href="{url}"' in page
