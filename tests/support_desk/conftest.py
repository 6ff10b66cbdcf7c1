import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 40


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def png(name="screenshot.png", data=PNG):
    return SimpleUploadedFile(name, data, content_type="image/png")


def text_file(name="log.txt", data=b"error 42 at 12:00\n"):
    return SimpleUploadedFile(name, data, content_type="text/plain")
