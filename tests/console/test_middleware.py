"""Project middleware: private caching for what is personal, UTF-8 form bodies."""

import pytest
from django.urls import reverse

from tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db


def _directives(response) -> set[str]:
    return {part.strip() for part in response.get("Cache-Control", "").split(",") if part.strip()}


@pytest.mark.parametrize(
    "name",
    ["dashboard", "profile", "workspace_list", "privacy_center", "cookie_settings"],
)
def test_signed_in_pages_are_private_and_not_stored(client, user, name):
    client.force_login(user)

    response = client.get(reverse(name))

    assert response.status_code == 200
    assert {"private", "no-store"} <= _directives(response)


def test_api_answers_are_private_and_not_stored(client, user, workspace):
    client.force_login(user)

    for url in ("/api/v1/me/", f"/api/v1/workspaces/{workspace.pk}/keys/", "/api/v1/nowhere/"):
        response = client.get(url)
        assert {"private", "no-store"} <= _directives(response), url


def test_anonymous_api_errors_are_not_stored_either(client):
    response = client.get("/api/v1/me/")

    assert response.status_code == 403
    assert {"private", "no-store"} <= _directives(response)


@pytest.mark.parametrize("path", ["w/{ws}/audit/export.csv", "w/{ws}/usage/export.csv"])
def test_csv_downloads_are_private_and_not_stored(client, user, workspace, path):
    client.force_login(user)

    response = client.get("/" + path.format(ws=workspace.pk))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert {"private", "no-store"} <= _directives(response)


def test_the_login_response_that_signs_someone_in_is_not_stored(client, user):
    response = client.post(
        reverse("account_login"), {"login": user.email, "password": DEFAULT_PASSWORD}
    )

    assert response.status_code == 302
    assert {"private", "no-store"} <= _directives(response)


@pytest.mark.parametrize("name", ["privacy_policy", "cookie_policy"])
def test_public_pages_seen_anonymously_stay_cacheable(client, name):
    response = client.get(reverse(name))

    assert response.status_code == 200
    assert "no-store" not in _directives(response)
    assert "private" not in _directives(response)


def test_a_form_body_that_is_not_utf8_is_refused(client, user):
    client.force_login(user)

    for body in (b"name=%ED%A0%80", b"name=\xff\xfe"):
        response = client.post(
            reverse("workspace_create"), body, content_type="application/x-www-form-urlencoded"
        )
        assert response.status_code == 400
    assert not user.memberships.exists()


def test_a_form_body_in_utf8_still_works(client, user):
    client.force_login(user)

    response = client.post(
        reverse("workspace_create"),
        "name=Zo%C3%AB",
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 302
    assert user.memberships.filter(workspace__name="Zoë").exists()
