"""Project-wide middleware: what every response and every form body gets."""

from __future__ import annotations

from urllib.parse import parse_qsl

from django.conf import settings
from django.core.exceptions import BadRequest
from django.utils.cache import patch_cache_control

from accounts.rest import API_PREFIX

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"


class UndecodableFormMiddleware:
    """Refuse a form body that is not valid UTF-8 (400) instead of guessing at it.

    Django decodes form fields with replacement characters (or as Latin-1), so a lone
    surrogate or a stray byte would reach a form as valid-looking text and be saved.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method in ("POST", "PUT", "PATCH") and request.content_type == FORM_CONTENT_TYPE:
            body = request.body  # Django refuses a body over DATA_UPLOAD_MAX_MEMORY_SIZE here.
            try:
                parse_qsl(
                    body.decode("utf-8"),
                    keep_blank_values=True,
                    encoding="utf-8",
                    errors="strict",
                    max_num_fields=settings.DATA_UPLOAD_MAX_NUMBER_FIELDS,
                )
            except UnicodeDecodeError:
                raise BadRequest("The form is not valid UTF-8.") from None
            except ValueError:
                # Too many fields: Django's own parser refuses it the same way later.
                pass
        return self.get_response(request)


class PrivateCacheMiddleware:
    """Keep signed-in pages, API answers and downloads out of every shared cache.

    Responses for a signed-in person, anything under /api/ and every CSV download get
    `Cache-Control: private, no-store`. Public pages seen anonymously (login, policies)
    and static files keep their own caching.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.path.startswith("/" + settings.STATIC_URL.lstrip("/")):
            return response
        if (
            request.path.startswith(API_PREFIX)
            or response.get("Content-Type", "").startswith("text/csv")
            or "attachment" in response.get("Content-Disposition", "")
            or _signed_in(request)
        ):
            patch_cache_control(response, private=True, no_store=True)
        return response


def _signed_in(request) -> bool:
    # request.user is missing on the gateway's fast lane; evaluating it otherwise costs
    # nothing more than the view already paid.
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated)
