"""Stop at once, with a message that says how to start them, when PostgreSQL or Redis
cannot be reached at DATABASE_URL / REDIS_URL."""

import os
import socket
import sys
from urllib.parse import urlparse

HOW = {
    "PostgreSQL": "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
    "Redis": "redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save '' "
    "--appendonly no",
}


def reachable(url: str, default_port: int) -> tuple[str, int, bool]:
    parsed = urlparse(url)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or default_port
    try:
        with socket.create_connection((host, port), timeout=2):
            return host, port, True
    except OSError:
        return host, port, False


def main() -> int:
    failures = []
    for name, var, default, port in (
        ("PostgreSQL", "DATABASE_URL", "postgres://postgres@127.0.0.1:5432/console", 5432),
        ("Redis", "REDIS_URL", "redis://127.0.0.1:6379/0", 6379),
    ):
        host, port, ok = reachable(os.environ.get(var) or default, port)
        if not ok:
            failures.append(
                f"{name} is not reachable at {host}:{port} ({var}).\n  Start it: {HOW[name]}"
            )
    for failure in failures:
        print(failure, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
