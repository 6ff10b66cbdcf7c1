"""Read the visitor id once per request and honour Global Privacy Control signals."""

from privacy.consent.cookies import (
    VISITOR_COOKIE,
    gpc_requested,
    parse_visitor_id,
    set_consent_cookies,
)


class ConsentMiddleware:
    """Attach `request.consent_visitor_id`; record a GPC signal the first time it is seen.

    A browser sending `Sec-GPC: 1` without a visitor id gets one, so the signal can be
    recorded against it (the id is a strictly necessary cookie).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        visitor_id = parse_visitor_id(request.COOKIES.get(VISITOR_COOKIE))
        issued = False
        if visitor_id is None and gpc_requested(request):
            import uuid

            visitor_id = uuid.uuid4()
            issued = True
        request.consent_visitor_id = visitor_id
        if gpc_requested(request):
            self._record_gpc(request, visitor_id)
        response = self.get_response(request)
        if issued:
            set_consent_cookies(response, request, visitor_id=visitor_id, choice=None)
        return response

    def _record_gpc(self, request, visitor_id):
        from privacy.consent.cookies import CONSENT_COOKIE, parse_choice
        from privacy.consent.services import consent_gpc_record

        choice = parse_choice(request.COOKIES.get(CONSENT_COOKIE))
        consent_gpc_record(
            visitor_id=visitor_id,
            user=getattr(request, "user", None),
            preferences=bool(choice and choice.preferences),
        )
