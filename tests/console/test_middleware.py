"""Project middleware: form bodies must be UTF-8."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


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
