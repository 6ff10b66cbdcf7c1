"""Download of a ready export: signed, expiring and for its owner only."""

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from accounts.errors import Conflict, NotFound
from privacy.exports.services import export_for_download


def export_file_response(export, path) -> FileResponse:
    response = FileResponse(
        open(path, "rb"),  # noqa: SIM115 - FileResponse closes it
        as_attachment=True,
        filename=f"console-data-export-{export.created_at:%Y%m%d}.zip",
        content_type="application/zip",
    )
    response["Cache-Control"] = "no-store"
    return response


@never_cache
@login_required
@require_GET
def export_download(request, token):
    try:
        export, path = export_for_download(token=token, user=request.user)
    except NotFound as exc:
        raise Http404 from exc
    except Conflict as exc:
        return HttpResponse(exc.message, status=409, content_type="text/plain")
    return export_file_response(export, path)
