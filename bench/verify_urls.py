"""Comparison-only URLs for bench_verify_http: a trivial plain-Django JSON endpoint, a
DRF view behind djangorestframework-api-key's HasAPIKey, and the product's verify."""

from django.http import JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_api_key.permissions import HasAPIKey

from apikeys.keys.verify import verify_endpoint


@csrf_exempt
def trivial(request):
    return JsonResponse({"ok": True})


class HasApiKeyView(APIView):
    authentication_classes: list = []
    permission_classes = [HasAPIKey]

    def post(self, request):
        return Response({"ok": True})


urlpatterns = [
    path("trivial", trivial),
    path("drf-api-key", HasApiKeyView.as_view()),
    path("api/v1/keys/verify", verify_endpoint),
]
