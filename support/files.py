"""Attachment files: what is accepted, and how it is stored (encrypted, owned by a row).

A file is accepted when its content is one of a few harmless kinds, sniffed from its
bytes, and its name's extension agrees; the extension alone proves nothing. Stored
files are sealed with the encryption keyring (AES-256-GCM, bound to the attachment's
id) and named after their `SupportAttachment` row. Deleting the row's files goes first;
a sweep removes any file no row owns.
"""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.http import HttpResponse
from django.utils.http import content_disposition_header

from accounts.crypto import get_keyring
from accounts.errors import DomainError

# Sniffed kind → (content type, extensions that may carry it).
KINDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "png": ("image/png", (".png",)),
    "jpeg": ("image/jpeg", (".jpg", ".jpeg")),
    "gif": ("image/gif", (".gif",)),
    "pdf": ("application/pdf", (".pdf",)),
    "text": ("text/plain", (".txt", ".log", ".csv", ".json", ".md")),
}
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"%PDF-", "pdf"),
)
_TEXT_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_NAME_UNSAFE = re.compile(r"[^\w .()-]+")


@dataclass(frozen=True)
class Upload:
    """An accepted file: a safe name, its sniffed type and its bytes."""

    name: str
    content_type: str
    data: bytes


def max_files() -> int:
    return int(getattr(settings, "SUPPORT_ATTACHMENT_MAX_FILES", 3))


def max_bytes() -> int:
    return int(getattr(settings, "SUPPORT_ATTACHMENT_MAX_BYTES", 5 * 1024 * 1024))


def sniff(data: bytes) -> str | None:
    """Return the kind of `data` from its content, or None when it is not accepted."""
    for signature, kind in _SIGNATURES:
        if data.startswith(signature):
            return kind
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if _TEXT_CONTROL.search(text):
        return None
    return "text"


def safe_name(name: str) -> str:
    """A file name fit for a header and a page: no path, no control characters, short."""
    name = unicodedata.normalize("NFC", os.path.basename((name or "").replace("\\", "/")))
    name = _NAME_UNSAFE.sub("_", name).strip(" .")
    if len(name) > 100:
        stem, ext = os.path.splitext(name)
        name = stem[: 100 - len(ext[:10])] + ext[:10]
    return name or "file"


def _refuse(message: str) -> DomainError:
    return DomainError(message, code="invalid_attachment", fields={"attachments": [message]})


def uploads_check(files) -> list[Upload]:
    """Accept up to `max_files()` files of an accepted kind and size; refuse all otherwise."""
    files = list(files or [])
    if len(files) > max_files():
        raise _refuse(f"Attach at most {max_files()} files.")
    accepted = []
    limit = max_bytes()
    for uploaded in files:
        size = getattr(uploaded, "size", None)
        if size is None or size > limit:
            raise _refuse(f"Each file must be at most {limit // (1024 * 1024)} MB.")
        data = uploaded.read(limit + 1)
        if len(data) > limit:
            raise _refuse(f"Each file must be at most {limit // (1024 * 1024)} MB.")
        if not data:
            raise _refuse("An attached file is empty.")
        name = safe_name(getattr(uploaded, "name", "") or "")
        kind = sniff(data)
        if kind is None:
            raise _refuse(
                f"{name}: only images (PNG, JPEG, GIF), PDF and plain text files are accepted."
            )
        content_type, extensions = KINDS[kind]
        if not name.lower().endswith(extensions):
            raise _refuse(f"{name}: the file's content does not match its extension.")
        accepted.append(Upload(name=name, content_type=content_type, data=data))
    return accepted


def folder(*, create: bool = True) -> Path:
    path = Path(settings.MEDIA_ROOT) / "support"
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def path_for(attachment_id) -> Path:
    return folder() / f"{attachment_id}.bin"


def _associated_data(attachment_id) -> bytes:
    return f"support.attachment.{attachment_id}".encode()


def file_write(*, attachment_id, data: bytes) -> None:
    """Seal `data` and write it under the attachment's name (atomically)."""
    sealed = get_keyring().encrypt_bytes(data, associated_data=_associated_data(attachment_id))
    path = path_for(attachment_id)
    partial = path.with_suffix(".partial")
    partial.write_bytes(sealed)
    os.replace(partial, path)


def file_read(*, attachment_id) -> bytes:
    sealed = path_for(attachment_id).read_bytes()
    return get_keyring().decrypt_bytes(sealed, associated_data=_associated_data(attachment_id))


def file_delete(*, attachment_id) -> None:
    path_for(attachment_id).unlink(missing_ok=True)
    path_for(attachment_id).with_suffix(".partial").unlink(missing_ok=True)


def download_response(*, attachment, data: bytes) -> HttpResponse:
    """Always a download, never rendered inline, under its sniffed type."""
    response = HttpResponse(data, content_type=attachment.content_type)
    response["Content-Disposition"] = content_disposition_header(
        as_attachment=True, filename=attachment.file_name
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response
