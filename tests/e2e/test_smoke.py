import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def test_login_page_renders_in_chromium_without_console_errors(page, live_server):
    response = page.goto("/accounts/login/")
    assert response.status == 200
    assert page.locator("input[type=password]").count() == 1
    assert page.console_errors == []
