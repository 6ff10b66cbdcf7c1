"""HTTP verify under gunicorn with wrk on loopback, measured like with like.

Two servers run side by side, each gunicorn with the same worker class and count:

- like with like (the headline): `bench.verify_settings_lean`, only the middleware that
  runs before the gateway fast lane; a trivial plain-Django JSON endpoint, verify and
  djangorestframework-api-key's HasAPIKey on a DRF view all pass through that same
  stack and the same URL resolver;
- product configuration (reference): `bench.verify_settings`, the full middleware stack;
  verify takes the fast lane, the trivial endpoint goes down the whole stack.

Rounds are interleaved (every endpoint once per round, in turn) so that load from other
work on the machine falls on all of them alike; the ratios are medians over rounds.
Exits non-zero when the like-with-like ratio of verify to the trivial endpoint is under
0.70. Prerequisite: wrk (`apt-get install -y wrk` on Debian).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/console REDIS_URL=redis://127.0.0.1:6379/5 \
        .venv/bin/python bench/bench_verify_http.py [--keys 100] [--seconds 5] [--rounds 3] \
        [--workers 2] [--worker-class sync|gthread] [--threads 4]

Starts its own gunicorns on free ports and stops them by PID.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
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


TARGET = 0.70


def start_server(settings_module: str, env: dict, args) -> tuple[subprocess.Popen, str]:
    port = free_port()
    command = [
        str(Path(sys.executable).parent / "gunicorn"),
        "console.wsgi:application",
        "--workers",
        str(args.workers),
        "--worker-class",
        args.worker_class,
        "--bind",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
        "--graceful-timeout",
        "5",
    ]
    if args.worker_class == "gthread":
        command += ["--threads", str(args.threads)]
    server = subprocess.Popen(
        command, cwd=ROOT, env={**env, "DJANGO_SETTINGS_MODULE": settings_module}
    )
    return server, f"http://127.0.0.1:{port}"


def wait_until_up(url: str) -> None:
    """Wait until a worker answers (the master listens long before workers boot)."""
    import http.client

    host, port = url.rsplit("/", 1)[1].split(":")
    deadline = time.monotonic() + 120
    while True:
        try:
            conn = http.client.HTTPConnection(host, int(port), timeout=5)
            conn.request("POST", "/trivial", body=b"{}")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"no answer from {url}")
        time.sleep(0.5)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--keys", type=int, default=100)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker-class", default="sync", choices=["sync", "gthread"])
    parser.add_argument("--threads", type=int, default=4, help="per gthread worker")
    parser.add_argument(
        "--workspace-budget",
        action="store_true",
        help="give the keys' workspace a monthly token budget as well",
    )
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is required: apt-get install -y wrk")

    from bench.bench_verify import make_keys, setup_database

    setup_database()
    from django.conf import settings
    from django.core.cache import cache
    from django.db import connection

    cache.clear()
    ours, theirs = make_keys(args.keys, workspace_budget=args.workspace_budget)
    db_name = connection.settings_dict["NAME"]
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/console")
    env = {**os.environ, "DATABASE_URL": base.rsplit("/", 1)[0] + "/" + db_name}
    token = settings.GATEWAY_TOKENS[0]
    verify_body = json.dumps(
        {
            "key": ours[0],
            "required_scope": "inference",
            "client_ip": "203.0.113.9",
            "estimated_tokens": 100,
        }
    )
    lean, lean_url = start_server("bench.verify_settings_lean", env, args)
    full, full_url = start_server("bench.verify_settings", env, args)
    endpoints = {
        "like/trivial": (f"{lean_url}/trivial", "{}", "", ""),
        "like/verify": (f"{lean_url}/api/v1/keys/verify", verify_body, f"Bearer {token}", ""),
        "like/HasAPIKey": (f"{lean_url}/drf-api-key", "{}", f"Api-Key {theirs[0]}", theirs[0]),
        "product/trivial": (f"{full_url}/trivial", "{}", "", ""),
        "product/verify": (f"{full_url}/api/v1/keys/verify", verify_body, f"Bearer {token}", ""),
    }
    rounds: list[dict] = []
    try:
        wait_until_up(lean_url)
        wait_until_up(full_url)
        for _ in range(2):  # warm every worker's caches and connections
            for url, body, auth, api_key in endpoints.values():
                run_wrk(url, body, auth, api_key, 1)
        for _ in range(args.rounds):
            rounds.append(
                {name: run_wrk(*target, args.seconds) for name, target in endpoints.items()}
            )
    finally:
        for server in (lean, full):
            server.send_signal(signal.SIGTERM)
        for server in (lean, full):
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()

    def ratio(name: str, base_name: str) -> float:
        return statistics.median(row[name]["rps"] / row[base_name]["rps"] for row in rounds)

    workers = f"{args.workers} {args.worker_class} workers" + (
        f" x {args.threads} threads" if args.worker_class == "gthread" else ""
    )
    print(
        f"gunicorn {workers}, wrk -t2 -c8 -d{args.seconds}s, {args.rounds} interleaved "
        f"rounds, keys: {len(ours)} each"
    )
    for number, row in enumerate(rounds, 1):
        print(f"round {number}")
        for name, result in row.items():
            base_name = name.split("/")[0] + "/trivial"
            share = result["rps"] / row[base_name]["rps"]
            print(
                f"  {name:<16} {result['rps']:9.1f} req/s  p50 {result['p50_ms']:6.2f} ms  "
                f"p99 {result['p99_ms']:6.2f} ms  ratio {share:4.2f}  non-2xx {result['non_2xx']}"
            )
    like = ratio("like/verify", "like/trivial")
    print(f"like with like (same middleware): verify / trivial = {like:.2f} (median)")
    print(f"like with like: HasAPIKey / trivial = {ratio('like/HasAPIKey', 'like/trivial'):.2f}")
    print(
        "product configuration (reference; verify in the fast lane, trivial through the "
        f"full stack): verify / trivial = {ratio('product/verify', 'product/trivial'):.2f}"
    )
    failed = [name for row in rounds for name, result in row.items() if result["non_2xx"]]
    if failed:
        sys.exit(f"non-2xx answers from: {sorted(set(failed))}")
    if like < TARGET:
        sys.exit(f"like-with-like ratio {like:.2f} is under the target {TARGET:.2f}")


if __name__ == "__main__":
    main()
