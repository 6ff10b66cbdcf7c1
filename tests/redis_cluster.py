"""A Redis Cluster of real `redis-server` processes for tests and benchmarks (no Django
imports, so benchmark scripts can start one before setting Django up)."""

import random
import socket
import subprocess
import time


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_cluster_port() -> int:
    """A free loopback port whose cluster bus port (+10000) is free too; Redis wants
    both at or below 65535, so the port is drawn below the ephemeral range."""
    while True:
        port = random.randint(20000, 30000)
        if _bindable(port) and _bindable(port + 10000):
            return port


class RedisClusterServers:
    """A Redis Cluster of three masters from Debian's `redis-server`, on free ports, in
    `directory`, without persistence; every process is stopped by its PID."""

    def __init__(self, directory, *, masters: int = 3):
        self.directory = directory
        self.ports = [free_cluster_port() for _ in range(masters)]
        self.procs: list[subprocess.Popen] = []

    @property
    def url(self) -> str:
        """The address verify takes (VERIFY_REDIS_URL): any node finds the others."""
        return f"redis+cluster://127.0.0.1:{self.ports[0]}/0"

    def start(self) -> None:
        import redis

        for port in self.ports:
            node_dir = self.directory / str(port)
            node_dir.mkdir(parents=True, exist_ok=True)
            self.procs.append(
                subprocess.Popen(
                    [
                        "redis-server",
                        "--port",
                        str(port),
                        "--bind",
                        "127.0.0.1",
                        "--cluster-enabled",
                        "yes",
                        "--cluster-config-file",
                        "nodes.conf",
                        "--cluster-node-timeout",
                        "5000",
                        "--save",
                        "",
                        "--appendonly",
                        "no",
                        "--dir",
                        str(node_dir),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )

        def answers(port):
            try:
                return redis.Redis(port=port).ping()
            except redis.ConnectionError:
                return False

        for port in self.ports:
            _wait_for(lambda port=port: answers(port), 10, f"redis-server on {port}")
        subprocess.run(
            [
                "redis-cli",
                "--cluster",
                "create",
                *(f"127.0.0.1:{port}" for port in self.ports),
                "--cluster-replicas",
                "0",
                "--cluster-yes",
            ],
            check=True,
            capture_output=True,
        )
        for port in self.ports:
            _wait_for(
                lambda port=port: redis.Redis(port=port).cluster("info")["cluster_state"] == "ok",
                20,
                "the cluster to be ready",
            )

    def client(self):
        """A cluster client (redis-py follows MOVED and ASK)."""
        from redis.cluster import RedisCluster

        return RedisCluster(host="127.0.0.1", port=self.ports[0])

    def flush(self) -> None:
        import redis

        for port in self.ports:
            redis.Redis(port=port).flushall()

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            proc.wait(timeout=10)
        self.procs = []


def _wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
