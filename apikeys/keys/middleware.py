"""A fast lane for the gateway's verify calls.

The inference gateway calls verify on every model request. It sends no cookies and
reads no HTML, so sessions, CSRF, authentication, messages, allauth, the Content
Security Policy and the consent middleware have nothing to do for it, yet together
they cost more than verification itself. This middleware sits right after Django's
SecurityMiddleware (HTTPS redirect and nosniff still apply) and hands the verify path
straight to its view; every other request goes down the full stack as usual.
"""

from apikeys.keys.verify import verify_endpoint

# The public address of verify (also routed in apikeys/api/urls.py for the schema).
VERIFY_PATH = "/api/v1/keys/verify"


class GatewayFastLaneMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info == VERIFY_PATH:
            return verify_endpoint(request)
        return self.get_response(request)
