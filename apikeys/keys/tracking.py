"""In-process copies of key generations, kept honest by Redis's invalidation pushes.

One RESP3 connection per process (per node of a Redis Cluster) turns on `CLIENT
TRACKING` and reads each generation it copies with a plain `GET`; from then on Redis
pushes an invalidation on that same connection whenever the generation changes, expires,
is evicted or the database is emptied. Every verify first reads whatever pushes are
already in the socket, without waiting, and forgets the generations they name; a copy
that is still held was therefore current when the last push arrived.

The copies are trusted only while the connection is healthy: any error on it (the
server restarted, `CLIENT KILL`, a network failure, a cluster slot that moved) closes it
and forgets every copy, and verify falls back to its round trip until the next `GET`
has tracked the key again on a new connection. Tracking on the same connection (not a
redirect to another one) keeps a reply and the invalidations that follow it in one
ordered stream, so a copy is never stored after the push that ended it.

Writers that raise a generation make one more round trip to every node after the write
(`RedisStore.bump`): Redis writes a push to the tracking sockets in the event-loop turn
of the write, before it answers that later command, so when the writer returns the
invalidation has left Redis for every tracking connection.

What that guarantees: on one host (loopback) the very next verify in every process
refuses a revoked key. Across hosts the push is on the wire before the writer returns;
a verify that starts before the network has delivered it (one packet, or a TCP
retransmission if that packet is lost) can still pass. Redis only holds pushes back in
its own output buffer once the socket buffers are full; a poll that reads
BACKLOG_PUSHES or more starts over, so such a backlog is never trusted.
"""

from __future__ import annotations

import contextlib
import os
import threading

# Pushes read in one poll beyond which some may still be queued in Redis rather than in
# the socket: the kernel's socket buffers hold several thousand invalidations, so Redis
# only keeps any back after far more than this many have reached the socket.
BACKLOG_PUSHES = 1000


class GenerationTracker:
    """Generation copies for one process, invalidated by Redis (single server or cluster)."""

    def __init__(self, client, *, cluster: bool):
        self.client = client
        self.cluster = cluster
        self.pid = os.getpid()
        self.connections: dict = {}
        self.gens: dict[str, str] = {}
        # Counts a tracking connection lost (tests and the profile read it).
        self.resets = 0
        self.pushes = 0
        # Threads of one process (gthread workers) share the connections.
        self.lock = threading.RLock()

    # A generation copy is looked up on every verify: a plain dictionary read.
    def get(self, key: str) -> str | None:
        return self.gens.get(key)

    def poll(self) -> None:
        """Read every push already in the tracking sockets, without waiting."""
        if self.pid != os.getpid():
            # A forked child must not read its parent's sockets.
            self.connections = {}
            self.gens.clear()
            self.pid = os.getpid()
            return
        if not self.connections:
            return
        with self.lock:
            self.pushes = 0
            try:
                for connection in self.connections.values():
                    while connection.can_read(timeout=0):
                        connection.read_response(push_request=True, timeout=0)
            except Exception:  # any failure: trust nothing, fall back
                self.reset()
                return
            if self.pushes >= BACKLOG_PUSHES:
                # So many that more may still wait in Redis's output buffer: start over.
                self.reset()

    def track(self, key: str) -> str | None:
        """Read `key` on the tracking connection and keep a copy; None if that failed."""
        with self.lock:
            try:
                connection = self._connection_for(key)
                connection.send_command("GET", key)
                value = connection.read_response()
                if value is not None and not isinstance(value, bytes | str):
                    raise TypeError(value)
            except Exception:
                self.reset()
                return None
            value = value.decode() if isinstance(value, bytes) else (value or "0")
            if len(self.gens) >= 100_000:
                self.gens.clear()
            self.gens[key] = value
            return value

    def reset(self) -> None:
        """Close every tracking connection and forget every copy."""
        with self.lock:
            self.gens.clear()
            connections, self.connections = self.connections, {}
            self.resets += 1
            for connection in connections.values():
                with contextlib.suppress(Exception):  # already broken
                    connection.disconnect()

    close = reset

    def _on_push(self, message) -> None:
        # ["invalidate", [key, ...]], or ["invalidate", None] when the database was emptied.
        self.pushes += 1
        keys = message[1] if len(message) > 1 else None
        if keys is None:
            self.gens.clear()
            return
        for key in keys:
            self.gens.pop(key.decode() if isinstance(key, bytes) else key, None)

    def _connection_for(self, key: str):
        if self.cluster:
            node = self.client.get_node_from_key(key)
            name = node.name
            pool = node.redis_connection.connection_pool
        else:
            name = ""
            pool = self.client.connection_pool
        connection = self.connections.get(name)
        if connection is not None:
            return connection
        # The pool's own settings (address, TLS, timeouts), spoken in RESP3.
        kwargs = {**pool.connection_kwargs, "protocol": 3, "health_check_interval": 0}
        connection = pool.connection_class(**kwargs)
        connection.connect()
        connection._parser.set_invalidation_push_handler(self._on_push)
        connection.send_command("CLIENT", "TRACKING", "ON")
        connection.read_response()
        self.connections[name] = connection
        return connection
