"""Benchmark: storing and reading a support attachment, against plain file I/O.

Prints, per file size, the median time to accept a file (sniff, name, size checks),
seal and write it, and to read and open it, next to writing and reading the same
bytes unencrypted in the same folder (the floor), and the ratio. No database is used.
Fails when storing or reading the largest accepted file (5 MB) takes over 500 ms: an
upload or a download must never wait on its encryption.

    .venv/bin/python bench/bench_support_attachments.py [--rounds 9]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings.test")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.core.files.uploadedfile import SimpleUploadedFile

    from support import files

    with tempfile.TemporaryDirectory() as media:
        settings.MEDIA_ROOT = media
        print(f"{args.rounds} rounds, median; one process, files in a temporary folder")
        worst = 0.0
        print(
            f"{'size':>8} {'store ms':>9} {'plain ms':>9} {'ratio':>6} "
            f"{'read ms':>8} {'plain ms':>9} {'ratio':>6}"
        )
        for size in (64 * 1024, 1024 * 1024, 5 * 1024 * 1024):
            data = b"\x89PNG\r\n\x1a\n" + os.urandom(size - 8)
            store, plain_write, read, plain_read = [], [], [], []
            for _ in range(args.rounds):
                attachment_id = uuid.uuid4()
                upload = SimpleUploadedFile("shot.png", data, content_type="image/png")
                started = time.perf_counter()
                accepted = files.uploads_check([upload])
                files.file_write(attachment_id=attachment_id, data=accepted[0].data)
                store.append(time.perf_counter() - started)
                started = time.perf_counter()
                assert files.file_read(attachment_id=attachment_id) == data
                read.append(time.perf_counter() - started)

                plain = Path(media) / f"plain-{attachment_id}"
                upload = SimpleUploadedFile("shot.png", data, content_type="image/png")
                started = time.perf_counter()
                plain.write_bytes(upload.read())
                plain_write.append(time.perf_counter() - started)
                started = time.perf_counter()
                assert plain.read_bytes() == data
                plain_read.append(time.perf_counter() - started)
                files.file_delete(attachment_id=attachment_id)
                plain.unlink()
            med = {
                k: statistics.median(v) * 1000
                for k, v in (
                    ("store", store),
                    ("plain_write", plain_write),
                    ("read", read),
                    ("plain_read", plain_read),
                )
            }
            worst = max(worst, med["store"], med["read"])
            print(
                f"{size // 1024:>6}KB {med['store']:>9.2f} {med['plain_write']:>9.2f} "
                f"{med['store'] / med['plain_write']:>6.1f} {med['read']:>8.2f} "
                f"{med['plain_read']:>9.2f} {med['read'] / med['plain_read']:>6.1f}"
            )

        if worst > 500:
            print(f"FAIL: {worst:.0f} ms to store or read one file (bound: 500 ms)")
            sys.exit(1)


if __name__ == "__main__":
    main()
