"""Helpers shared by the privacy app's pages."""

from django.utils.http import url_has_allowed_host_and_scheme

from accounts.errors import DomainError


def safe_next_url(request, candidate: str | None, default: str = "/") -> str:
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return default


def form_add_domain_errors(form, error: DomainError) -> None:
    for field, field_errors in (error.fields or {None: [error.message]}).items():
        for message in field_errors:
            form.add_error(field if field in form.fields else None, message)
