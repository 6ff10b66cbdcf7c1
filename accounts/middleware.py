"""Request-scoped context for the audit log."""

from accounts import request_context


class RequestContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with request_context.bind(request_context.from_request(request)):
            return self.get_response(request)
