"""Authentication of a processor by its own callback token: `Authorization: Bearer prc_...`.

Never a user session: the callback endpoints accept nothing else. The token is looked
up by its public id and its secret compared in constant time against a keyed hash.
"""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication

from privacy.processors.services import processor_authenticate


class ProcessorPrincipal:
    """The authenticated caller of a callback: a processor, not a person."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    pk = None

    def __init__(self, processor):
        self.processor = processor

    def __str__(self) -> str:
        return f"processor {self.processor.pk}"


class ProcessorTokenAuthentication(BaseAuthentication):
    """Authenticate a processor; anything else is refused with 401."""

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise exceptions.NotAuthenticated("A processor token is required.")
        processor = processor_authenticate(token=token)
        if processor is None:
            raise exceptions.AuthenticationFailed("The processor token is not valid.")
        return ProcessorPrincipal(processor), processor

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="processors"'


class ProcessorTokenScheme(OpenApiAuthenticationExtension):
    target_class = "privacy.processors.auth.ProcessorTokenAuthentication"
    name = "processorToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": (
                "A processor's own callback token (prc_...), given once when Privacy staff "
                "register the processor or rotate its token."
            ),
        }
