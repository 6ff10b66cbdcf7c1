"""REST download of a ready export, for its owner only."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.views import APIView

from privacy.exports.services import export_for_download
from privacy.exports.views import export_file_response


class ExportDownloadView(APIView):
    @extend_schema(
        responses={
            (200, "application/zip"): OpenApiTypes.BINARY,
            409: OpenApiResponse(description="The export is not ready, or has expired."),
        }
    )
    def get(self, request, export_id):
        """Download your ready export as a ZIP file."""
        export, path = export_for_download(export_id=export_id, user=request.user)
        return export_file_response(export, path)
