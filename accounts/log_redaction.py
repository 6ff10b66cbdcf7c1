"""Keep one-time tokens out of every log line.

Invitation, confirmation, password-reset, deletion-cancel and export-download links
carry their secret in the path. gunicorn's access log (deploy/gunicorn.conf.py) and
Django's own loggers (a 404 or 403 on such a link logs its path) blank those path
segments with the same rule, and drop query strings, which may carry tokens too.

Plain Python, no Django: gunicorn's configuration imports it before Django starts.
"""

from __future__ import annotations

import logging
import re

REDACTED = "[redacted]"

# A path segment this long and random-looking is a token, not a name.
_SECRET_SEGMENT = re.compile(r"^[A-Za-z0-9_\-:.=]{20,}$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
# A URL path (optionally with its query) inside free text, such as "Not Found: /x/y/".
_PATH_IN_TEXT = re.compile(r"(?<![\w.:/])(/[^\s?#\"']*)(\?[^\s#\"']*)?")


def redact_path(path: str) -> str:
    """Blank the path segments that look like secrets; keep UUIDs and words."""
    return "/".join(
        REDACTED if _SECRET_SEGMENT.match(part) and not _UUID.match(part) else part
        for part in path.split("/")
    )


def redact_text(text: str) -> str:
    """Blank token-like path segments and query strings of every path in `text`."""

    def replace(match: re.Match) -> str:
        query = "?" + REDACTED if match.group(2) else ""
        return redact_path(match.group(1)) + query

    return _PATH_IN_TEXT.sub(replace, text)


class RedactTokensFilter(logging.Filter):
    """A logging filter that rewrites each record's message with tokens blanked.

    The message is formatted once here (so arguments such as the request path are
    covered) and the request object Django attaches is dropped, so no handler can
    print its URL.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is the logging module's to report
            return True
        record.msg = redact_text(message)
        record.args = ()
        if hasattr(record, "request"):
            record.request = None
        return True
