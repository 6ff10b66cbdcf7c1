"""Where the time of one verify request goes, server side, in this process.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/console REDIS_URL=redis://127.0.0.1:6379/5 \
        .venv/bin/python bench/verify_profile.py [--calls 20000]

Times each step of a warm verify request on its own, then a whole request through
Django's WSGI handler with the like-with-like settings (`bench.verify_settings_lean`),
next to the trivial endpoint under the same settings. Each figure is the fastest of
five batches (the least disturbed by other work on a shared machine). Steps that
changed are timed the earlier way too, in the same run. Uses (and keeps) the test
database `test_<name>`.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.verify_settings_lean")


def per_call_us(fn, calls: int, rounds: int = 5) -> float:
    """The fastest of `rounds` batches: mean time of one call, in µs."""
    results = []
    for _ in range(rounds):
        start = time.perf_counter_ns()
        for _ in range(calls):
            fn()
        results.append((time.perf_counter_ns() - start) / calls / 1000)
    return min(results)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=20000)
    args = parser.parse_args()

    from bench.bench_verify import make_keys, setup_database

    setup_database()
    from django.conf import settings
    from django.core.cache import cache
    from django.core.handlers.wsgi import WSGIHandler

    from accounts import jsonbody
    from apikeys.keys import tokens, verification
    from apikeys.keys.gateway_auth import gateway_token_from_header, gateway_token_is_valid

    cache.clear()
    ours, _theirs = make_keys(1)
    full = ours[0]
    token = settings.GATEWAY_TOKENS[0]
    body = json.dumps(
        {
            "key": full,
            "required_scope": "inference",
            "client_ip": "203.0.113.9",
            "estimated_tokens": 100,
        }
    ).encode()
    header = f"Bearer {token}"
    result = verification.verify(full, required_scope="inference", estimated_tokens=100)
    assert result.valid
    store = verification.store()
    client = store.client
    handler = WSGIHandler()

    def environ(path: str, payload: bytes, auth: str | None) -> dict:
        env = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": path,
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "80",
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(payload),
            "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(payload)),
            "HTTP_HOST": "127.0.0.1",
        }
        if auth:
            env["HTTP_AUTHORIZATION"] = auth
        return env

    def request(path, payload, auth):
        def call():
            b"".join(handler(environ(path, payload, auth), lambda *a, **k: None))

        return call

    calls = args.calls
    text = body.decode()
    steps = {
        "JSON body parse, before (json.loads with hooks)": lambda: (
            jsonbody.nesting_exceeds(text, 32),
            json.loads(
                text, parse_float=jsonbody._finite_float, parse_constant=jsonbody._refuse_constant
            ),
        ),
        "JSON body parse (accounts.jsonbody)": lambda: jsonbody.loads(body),
        "gateway token (header + compare)": lambda: gateway_token_is_valid(
            gateway_token_from_header(header)
        ),
        "key parse + checksum": lambda: tokens.parse(full),
        "Redis round trip (PING)": client.ping,
        # Absent from earlier versions, which this script can also time.
        "invalidation poll (non-blocking read of the tracking socket)": getattr(
            getattr(store, "tracker", None), "poll", None
        ),
        "verify() warm, limits on": lambda: verification.verify(
            full, required_scope="inference", client_ip="203.0.113.9", estimated_tokens=100
        ),
        "answer serialisation, before (json.dumps of as_dict)": lambda: json.dumps(
            result.as_dict(), separators=(",", ":")
        ),
        # Absent from earlier versions, which this script can also time.
        "answer serialisation (as_json)": getattr(result, "as_json", None),
        "whole request, trivial endpoint (WSGI handler)": request("/trivial", b"{}", None),
        "whole request, verify (WSGI handler)": request("/api/v1/keys/verify", body, header),
    }
    print(f"settings: {os.environ['DJANGO_SETTINGS_MODULE']}; {calls} calls x 5 batches each")
    for name, fn in steps.items():
        if fn is None:
            continue
        fn()
        print(f"{name:<62} {per_call_us(fn, calls if 'WSGI' not in name else calls // 4):8.1f} µs")
    if hasattr(settings, "API_KEY_TRACKING"):
        # The same warm call checked in Redis every time (one round trip), as before.
        settings.API_KEY_TRACKING = False
        for name in ("verify() warm, limits on", "whole request, verify (WSGI handler)"):
            fn = steps[name]
            fn()
            label = f"{name}, tracking off"
            each = per_call_us(fn, calls if "WSGI" not in name else calls // 4)
            print(f"{label:<62} {each:8.1f} µs")


if __name__ == "__main__":
    main()
