"""An email backend for tests with real workers: it records each delivery in a file.

A worker process writes to the file named by EMAIL_RECORD_PATH (one JSON line per
message), so a test can count what was delivered. EMAIL_RECORD_HANG_SECONDS makes it
hang after a delivery is recorded, as a mail server that accepted the message and a
worker about to mark it sent, so a test can kill the worker at that moment.
"""

import json
import os
import time

from django.core.mail.backends.base import BaseEmailBackend


class RecordingBackend(BaseEmailBackend):
    def send_messages(self, messages):
        path = os.environ["EMAIL_RECORD_PATH"]
        for message in messages:
            line = json.dumps({"to": message.to, "subject": message.subject, "body": message.body})
            with open(path, "a", encoding="utf-8") as fh:
                fh.write(line + "\n")
                fh.flush()
                os.fsync(fh.fileno())
        hang = float(os.environ.get("EMAIL_RECORD_HANG_SECONDS", "0"))
        if hang:
            time.sleep(hang)
        return len(messages)
