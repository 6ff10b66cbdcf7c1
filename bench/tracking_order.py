"""Whether an invalidation push has reached a tracking connection when the writer returns.

    .venv/bin/python bench/tracking_order.py [--writes 2000]

Starts a private `redis-server` on a free port (stopped at the end). One RESP3
connection turns on `CLIENT TRACKING` and reads a generation key, as a verify process
caching generations would; a second connection raises the generation, as a revocation
does. Right after the writer's reply arrives, the tracking connection reads whatever
pushes are already in its socket without blocking (the check a verify call can afford)
and the script counts the writes whose invalidation was not there yet. The run is
repeated with one more round trip (`PING`) by the writer after its write.

A count above zero means a cached generation could answer a verify that follows a
revocation which has already returned.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import time

import redis

KEY = "gen:tracking-order"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_redis(port: int) -> subprocess.Popen:
    process = subprocess.Popen(
        [shutil.which("redis-server"), "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    probe = redis.Redis(port=port)
    for _ in range(100):
        try:
            probe.ping()
            return process
        except redis.ConnectionError:
            time.sleep(0.05)
    process.terminate()
    raise SystemExit("redis-server did not start")


def count_unseen(port: int, writes: int, barrier: bool) -> int:
    pushes = []
    tracking = redis.Redis(port=port, protocol=3).connection_pool.get_connection()
    tracking.send_command("CLIENT", "TRACKING", "ON")
    tracking.read_response()
    tracking._parser.set_invalidation_push_handler(pushes.append)
    writer = redis.Redis(port=port)
    unseen = 0
    for _ in range(writes):
        tracking.send_command("GET", KEY)
        tracking.read_response()
        pushes.clear()
        writer.incr(KEY)
        if barrier:
            writer.ping()
        while tracking.can_read(timeout=0):
            tracking.read_response(push_request=True, timeout=0)
        unseen += not pushes
    tracking.disconnect()
    writer.close()
    return unseen


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--writes", type=int, default=2000)
    args = parser.parse_args()
    port = free_port()
    process = start_redis(port)
    try:
        version = redis.Redis(port=port).info("server")["redis_version"]
        print(f"redis-server {version}, redis-py {redis.__version__}, {args.writes} writes each")
        for barrier in (False, True):
            unseen = count_unseen(port, args.writes, barrier)
            label = "write, then one more round trip" if barrier else "write only"
            print(f"{label:<34} invalidation not yet readable: {unseen}")
    finally:
        process.terminate()
        process.wait(timeout=10)


if __name__ == "__main__":
    main()
