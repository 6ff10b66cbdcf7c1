"""Gunicorn settings for production: `gunicorn -c deploy/gunicorn.conf.py`.

Every knob that differs between machines comes from the environment. The access log
never records query strings, referrers, cookies or Authorization headers, and blanks
path segments that carry one-time secrets (invitation, confirmation and reset links).
"""

import os
import sys
from pathlib import Path

from gunicorn.glogging import Logger

# The redaction rule is shared with Django's logging; the repository root holds it.
_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)
from accounts.log_redaction import redact_path  # noqa: E402

wsgi_app = "console.wsgi:application"
# In a container the port is the boundary; the proxy in front decides who reaches it.
bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '8000')}"  # noqa: S104
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
keepalive = 5
# Recycle workers now and then so a slow leak can never grow without bound.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "2000"))
max_requests_jitter = max_requests // 10
# The proxies trusted to say a request came over HTTPS (X-Forwarded-Proto). Django reads
# that header too (SECURE_PROXY_SSL_HEADER): only the proxy may reach this port, and it
# must overwrite the header on every request.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

# Nothing here uses gunicorn's runtime control socket; keep the surface small.
control_socket_disable = True

accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# Peer, time, method, path (no query), protocol, status, bytes, duration, user agent.
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms "%(a)s"'

_SENSITIVE_HEADERS = {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key"}


class RedactingLogger(Logger):
    """Access log atoms without query strings, referrers, credentials or tokens."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        path = redact_path(environ.get("PATH_INFO") or "")
        atoms.update(
            U=path,
            r=f"{environ.get('REQUEST_METHOD')} {path} {environ.get('SERVER_PROTOCOL')}",
            q="-",
            f="-",
            u="-",
        )
        for key in list(atoms):
            name = key[1:-2] if key.startswith("{") else ""
            if (
                name in _SENSITIVE_HEADERS
                or name.startswith("http_")
                or name
                in (
                    "query_string",
                    "raw_uri",
                    "request_uri",
                )
            ):
                del atoms[key]
        return atoms


logger_class = RedactingLogger
