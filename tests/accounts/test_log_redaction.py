"""One-time tokens never reach a log line, whichever logger writes it."""

import io
import logging

import pytest

from accounts.log_redaction import RedactTokensFilter, redact_path, redact_text

TOKEN = "Zm9vYmFyYmF6cXV4LXNlY3JldC10b2tlbi0xMjM0NTY3OA"
WORKSPACE = "0b6c3c8e-6d3a-4c7e-9a57-0f4d7c2d1e90"


def test_paths_keep_words_and_uuids_but_lose_tokens():
    assert redact_path(f"/invitations/{TOKEN}/w/{WORKSPACE}/") == (
        f"/invitations/[redacted]/w/{WORKSPACE}/"
    )


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            f"Not Found: /privacy/exports/{TOKEN}/download/",
            "Not Found: /privacy/exports/[redacted]/download/",
        ),
        (
            f'"GET /accounts/confirm-email/MQ:1tAbCd:{TOKEN}/?next=/x HTTP/1.1" 404 179',
            '"GET /accounts/confirm-email/[redacted]/?[redacted] HTTP/1.1" 404 179',
        ),
        ("Forbidden: /account/delete/cancel/abc/", "Forbidden: /account/delete/cancel/abc/"),
        ("nothing to see", "nothing to see"),
    ],
)
def test_text_with_paths_is_redacted(message, expected):
    assert redact_text(message) == expected


def test_the_filter_formats_the_arguments_before_redacting():
    record = logging.LogRecord(
        "django.request",
        logging.WARNING,
        __file__,
        1,
        "%s: %s",
        ("Not Found", f"/x/{TOKEN}/"),
        None,
    )
    record.request = object()

    assert RedactTokensFilter().filter(record) is True
    assert record.getMessage() == "Not Found: /x/[redacted]/"
    assert record.request is None


@pytest.fixture
def console_log():
    """What the configured console handler writes, captured."""
    handlers = [
        handler
        for handler in logging.getLogger().handlers
        if any(isinstance(f, RedactTokensFilter) for f in handler.filters)
    ]
    assert handlers, "the console handler must carry the token filter"
    stream = io.StringIO()
    previous = [handler.setStream(stream) for handler in handlers]
    yield stream
    for handler, old in zip(handlers, previous, strict=True):
        handler.setStream(old)


@pytest.mark.django_db
def test_a_404_on_an_export_download_link_logs_no_token(client, user, console_log):
    client.force_login(user)

    response = client.get(f"/privacy/exports/{TOKEN}/download/")

    assert response.status_code == 404
    output = console_log.getvalue()
    assert "Not Found: /privacy/exports/[redacted]/download/" in output
    assert TOKEN not in output


@pytest.mark.django_db
def test_a_404_on_an_invitation_link_logs_no_token(client, user, console_log):
    client.force_login(user)

    client.get(f"/invitations/{TOKEN}/?token={TOKEN}")

    assert TOKEN not in console_log.getvalue()
