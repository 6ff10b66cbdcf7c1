"""Who is asking, from where: set once per request, read by the audit log.

Services record audit events without a request object; the middleware (and tasks or
commands, through `bind`) put the client's IP and user agent here.
"""

from __future__ import annotations

import contextlib
import contextvars
from dataclasses import dataclass

from accounts.client_address import client_address


@dataclass(frozen=True)
class RequestContext:
    ip_address: str | None = None
    user_agent: str = ""


_current: contextvars.ContextVar[RequestContext] = contextvars.ContextVar(
    "console_request_context",
    default=RequestContext(),  # noqa: B039 - frozen
)


def current() -> RequestContext:
    return _current.get()


@contextlib.contextmanager
def bind(context: RequestContext):
    token = _current.set(context)
    try:
        yield context
    finally:
        _current.reset(token)


def from_request(request) -> RequestContext:
    ip = client_address(request)
    agent = (request.META.get("HTTP_USER_AGENT") or "")[:512]
    return RequestContext(ip_address=ip, user_agent=agent)
