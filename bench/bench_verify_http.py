"""HTTP verify under gunicorn (2 sync workers) with wrk on loopback, side by side with a
trivial plain-Django JSON endpoint and djangorestframework-api-key's HasAPIKey on a DRF
view, in one run. Prerequisite: wrk (`apt-get install -y wrk` on Debian).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/console REDIS_URL=redis://127.0.0.1:6379/5 \
        .venv/bin/python bench/bench_verify_http.py [--keys 1000] [--seconds 10]

Starts its own gunicorn on a free port and stops it by PID. Prints requests/s, p50, p99
and the ratio of verify to the trivial endpoint.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.verify_settings")

LUA = """
wrk.method = "POST"
wrk.body = [[%s]]
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "%s"
wrk.headers["X-Api-Key"] = "%s"
done = function(summary, latency, requests)
  io.write(string.format("RESULT %%d %%f %%f %%d\\n", summary.requests,
    latency:percentile(50), latency:percentile(99), summary.errors.status))
end
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_wrk(url: str, body: str, auth: str, api_key: str, seconds: int) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(LUA % (body, auth, api_key))
    out = subprocess.run(
        ["wrk", "-t2", "-c8", f"-d{seconds}s", "-s", script.name, url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    os.unlink(script.name)
    match = re.search(r"RESULT (\d+) ([\d.]+) ([\d.]+) (\d+)", out)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    return {
        "rps": rps,
        "p50_ms": float(match.group(2)) / 1000,
        "p99_ms": float(match.group(3)) / 1000,
        "non_2xx": int(match.group(4)),
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--keys", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is required: apt-get install -y wrk")

    from bench.bench_verify import make_keys, setup_database

    setup_database()
    from django.conf import settings
    from django.core.cache import cache
    from django.db import connection

    cache.clear()
    ours, theirs = make_keys(args.keys)
    db_name = connection.settings_dict["NAME"]
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/console")
    env = {**os.environ, "DATABASE_URL": base.rsplit("/", 1)[0] + "/" + db_name}
    port = free_port()
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "console.wsgi:application",
            "--workers",
            "2",
            "--worker-class",
            "sync",
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        time.sleep(3)
        url = f"http://127.0.0.1:{port}"
        token = settings.GATEWAY_TOKENS[0]
        verify_body = json.dumps(
            {
                "key": ours[0],
                "required_scope": "inference",
                "client_ip": "203.0.113.9",
                "estimated_tokens": 100,
            }
        )
        for _ in range(2):  # warm both workers' caches and connections
            run_wrk(f"{url}/trivial", "{}", "", "", 1)
            run_wrk(f"{url}/api/v1/keys/verify", verify_body, f"Bearer {token}", "", 1)
        results = {
            "trivial plain-Django JSON": run_wrk(f"{url}/trivial", "{}", "", "", args.seconds),
            "verify (gateway token, limits on)": run_wrk(
                f"{url}/api/v1/keys/verify", verify_body, f"Bearer {token}", "", args.seconds
            ),
            "DRF view + HasAPIKey": run_wrk(
                f"{url}/drf-api-key", "{}", f"Api-Key {theirs[0]}", theirs[0], args.seconds
            ),
        }
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)

    trivial = results["trivial plain-Django JSON"]["rps"]
    print(f"gunicorn 2 sync workers, wrk -t2 -c8 -d{args.seconds}s, keys: {len(ours)} each")
    for name, row in results.items():
        print(
            f"{name:<36} {row['rps']:9.1f} req/s  p50 {row['p50_ms']:6.2f} ms  "
            f"p99 {row['p99_ms']:6.2f} ms  ratio {row['rps'] / trivial:4.2f}  "
            f"non-2xx {row['non_2xx']}"
        )


if __name__ == "__main__":
    main()
