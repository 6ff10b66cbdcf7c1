"""Domain errors raised by services and selectors; every front maps them the same way."""


class DomainError(Exception):
    """A rule of the domain refused the operation."""

    status_code = 400
    code = "invalid"

    def __init__(self, message: str, *, code: str | None = None, fields: dict | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.fields = fields or {}


class NotFound(DomainError):
    """The object does not exist or the caller may not see it (the same answer for both)."""

    status_code = 404
    code = "not_found"

    def __init__(self, message: str = "Not found."):
        super().__init__(message)


class Forbidden(DomainError):
    """The caller can see the object but may not perform this action on it."""

    status_code = 403
    code = "permission_denied"


class Conflict(DomainError):
    status_code = 409
    code = "conflict"


def form_add_domain_errors(form, error: DomainError) -> None:
    """Show a service's refusal on the form: on its fields where it names them."""
    for field, errors in error.fields.items():
        form.add_error(field if field in form.fields else None, errors)
    if not error.fields:
        form.add_error(None, error.message)
