"""Key verification: the hot path the gateway calls on every model request.

parse (no I/O) → look up by public id (in-process cache, then the shared cache, then
the database) → constant-time HMAC compare → state → IP allowlist → scope → max tokens
→ limits.

Every cached record carries its key's generation, read from the key's database row with
the rest of the record. Services raise the generation in the row, in the same
transaction, whenever a key, its workspace or its owners' data-handling choices change,
and copy it to the shared cache on commit, never lowering the copy there ("raise to"), so
a record read before the change can never pass: the one Lua script a warm call runs
checks the record's generation against the shared copy, enforces requests/min,
tokens/min and the monthly budget, and buffers last-used time and IP, atomically and in
one round trip. Refusals taken from a
cached record are confirmed against the generation too, so they are never stale either.
No database write happens per call: `api_key_last_used_flush` writes the buffer in batches.

The database holds the truth, so the shared cache may lose everything (emptied, restarted
without persistence, a generation evicted): a missing copy never equals a record's
generation (which starts at 1), so every warm record is reloaded once, and the reload
puts the database's generation back ("raise to", which can never undo a newer change
that raced it). A lower copy cannot mislead either: a record newer than the copy raises it.

Round trips: a warm call with the Redis store makes none while its generation copy
holds and its leases last (`tracking`: the process keeps the generations Redis has not
invalidated, and counts calls against quota leased from the shared counters by the
same script, see `Lease`); otherwise one (the script). A cold call makes one query and
two (read record and generation; the script, which also stores the fresh record), and
one more the first time its generation is tracked. A key whose workspace has a monthly
budget sends a second script, on the workspace's own counter (its own hash tag), in the
same pipeline on every call, with no lease; a request one of them refuses after the
other counted it is given back in a second round trip (docs/budgets.md).

Everything a call needs is worked out once, when a record is cached: parsed IP
networks, the scope set, the stored digests as bytes, the answer's limits. The success
path builds its answer dictionaries only when someone reads them.

Two stores hold the generations, counters and last-used buffer:

- Redis: VERIFY_REDIS_URL (one server, or a Redis Cluster with `redis+cluster://`), else
  the default cache when it is django-redis; shared by every process; production. Every
  name carries the hash tag of its key's shard (`shard_tag`), so everything one call
  touches is one slot on one node of a cluster, and the scripts declare every key they
  touch; the last-used buffer is a hash per shard, drained shard by shard.
- Embedded mode (any other cache, e.g. the local-memory cache `make run` uses without
  REDIS_URL): the same checks and counters kept in that cache, made atomic by a lock in
  this process. It serves one web process: limits are per process, changes made by
  another process (a worker) reach it only when its cached records expire, and the
  last-used buffer is written by the web process itself about once a minute.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import hmac
import ipaddress
import json
import threading
import time
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings

from apikeys.keys import tokens as keys
from apikeys.keys.tracking import GenerationTracker

VALID = "valid"
UNKNOWN = "unknown"
MALFORMED = "malformed"
REVOKED = "revoked"
EXPIRED = "expired"
IP_NOT_ALLOWED = "ip_not_allowed"
SCOPE_MISSING = "scope_missing"
MAX_TOKENS_EXCEEDED = "max_tokens_exceeded"
RATE_LIMITED = "rate_limited"
BUDGET_EXHAUSTED = "budget_exhausted"
CODES = (
    UNKNOWN,
    MALFORMED,
    REVOKED,
    EXPIRED,
    IP_NOT_ALLOWED,
    SCOPE_MISSING,
    MAX_TOKENS_EXCEEDED,
    RATE_LIMITED,
    BUDGET_EXHAUSTED,
)

WINDOW_SECONDS = 60
RECORD_TTL_SECONDS = 300
NEGATIVE_TTL_SECONDS = 60
GENERATION_TTL_SECONDS = 7 * 24 * 3600
LOCAL_CACHE_MAX = 20_000
# Every Redis key one verify touches carries the hash tag of its API key's shard, chosen
# by the key's public id: on a Redis Cluster a call is one slot on one node. The
# last-used buffer has one hash per shard, so no single key is written by every call;
# the flush drains them all. Changing the count renames every key (each warm record is
# then reloaded once, and the last minute's buffered last-used times are not written).
SHARDS = 256
EMBEDDED_FLUSH_SECONDS = 60
# How long last-used entries counted without a round trip wait in this process.
LAST_USED_PUSH_SECONDS = 1.0
# The function that writes the last-used buffer to the database (a service, which sits
# above this module), registered by the app at start-up: apikeys.apps.
EMBEDDED_FLUSH_HOOKS: list = []
_NEGATIVE = b"-"


# ---------------------------------------------------------------------------- records


def _digest(hex_value: str) -> bytes:
    try:
        return bytes.fromhex(hex_value or "")
    except ValueError:
        return b""


@dataclass(slots=True)
class KeyRecord:
    """What verify needs to know about one key; cached in-process and in the store."""

    id: int
    public_id: str
    workspace_id: str
    environment: str
    scopes: list[str]
    secret_hash: str
    pepper_id: str
    previous_secret_hash: str
    previous_pepper_id: str
    previous_expires: float | None
    expires: float | None
    revoked: bool
    allowed_ips: list[str]
    max_tokens: int | None
    rpm: int | None
    tpm: int | None
    budget: int | None
    zero_data_retention: bool
    training_opt_out: bool
    gen: str
    # The workspace's monthly token budget, counted under the workspace's own hash tag.
    workspace_budget: int | None = None
    # Worked out once per fill, never stored.
    networks: tuple = ()
    scope_set: frozenset = frozenset()
    digest: bytes = b""
    previous_digest: bytes = b""
    id_text: str = ""
    limit_arg: str = ""
    tag: str = ""
    # The valid answer's JSON around its "remaining" object, built on first use.
    answer_head: str = ""
    answer_tail: str = ""

    def __post_init__(self):
        self.networks = tuple(ipaddress.ip_network(cidr, strict=False) for cidr in self.allowed_ips)
        self.scope_set = frozenset(self.scopes)
        self.digest = _digest(self.secret_hash)
        self.previous_digest = _digest(self.previous_secret_hash)
        self.id_text = str(self.id)
        self.limit_arg = f"{self.rpm or 0} {self.tpm or 0} {self.budget or 0}"
        self.tag = shard_tag(self.public_id)

    def to_json(self) -> str:
        return json.dumps([getattr(self, name) for name in _STORED], separators=(",", ":"))

    def answer_parts(self) -> tuple[str, str]:
        """Return the valid answer's JSON before and after its "remaining" object."""
        if not self.answer_head:
            # No field of a record holds NUL, so the marker's JSON occurs only once.
            parts = _dumps(_valid_answer(self, remaining=_MARK)).split(_dumps(_MARK))
            self.answer_head, self.answer_tail = parts
        return self.answer_head, self.answer_tail

    @classmethod
    def from_json(cls, raw) -> KeyRecord | None:
        """Return the record, or None for anything not written by `to_json`."""
        try:
            values = json.loads(raw)
        except ValueError:
            return None
        if not isinstance(values, list) or len(values) != len(_STORED):
            return None
        return cls(*values)


_STORED = tuple(name for name in KeyRecord.__dataclass_fields__)[:21]


class VerifyResult:
    """The answer for one key. `code` is "valid" or one of CODES.

    A valid answer keeps the cached record and the script's reply; the dictionaries the
    endpoint sends are built only when read.
    """

    __slots__ = ("_record", "_reply", "code", "previous_secret", "retry_after", "valid")

    def __init__(
        self,
        *,
        valid: bool,
        code: str,
        retry_after: int | None = None,
        previous_secret: bool = False,
        record: KeyRecord | None = None,
        reply=None,
    ):
        self.valid = valid
        self.code = code
        self.retry_after = retry_after
        self.previous_secret = previous_secret
        self._record = record
        self._reply = reply

    def __repr__(self) -> str:
        return f"VerifyResult(valid={self.valid}, code={self.code!r})"

    @property
    def key_id(self) -> str | None:
        return self._record.public_id if self._record else None

    @property
    def pk(self) -> int | None:
        """The database id, for callers inside the console (REST key authentication)."""
        return self._record.id if self._record else None

    @property
    def workspace_id(self) -> str | None:
        return self._record.workspace_id if self._record else None

    @property
    def environment(self) -> str | None:
        return self._record.environment if self._record else None

    @property
    def scopes(self) -> list[str]:
        return list(self._record.scopes) if self._record else []

    @property
    def limits(self) -> dict | None:
        record = self._record
        if record is None:
            return None
        return {
            "max_tokens_per_request": record.max_tokens,
            "requests_per_minute": record.rpm,
            "tokens_per_minute": record.tpm,
            "monthly_token_budget": record.budget,
        }

    @property
    def remaining(self) -> dict | None:
        reply = self._reply
        if reply is None:
            return None
        return {
            "requests": _none_if_unlimited(reply[1]),
            "tokens": _none_if_unlimited(reply[2]),
            "budget_tokens": _none_if_unlimited(reply[3]),
            "window_reset_seconds": int(reply[4]),
        }

    @property
    def data_handling(self) -> dict | None:
        record = self._record
        if record is None:
            return None
        return {
            "zero_data_retention": record.zero_data_retention,
            "training_opt_out": record.training_opt_out,
        }

    def as_dict(self) -> dict:
        """Return the JSON body the verify endpoint answers with."""
        if not self.valid:
            body = {"valid": False, "code": self.code}
            if self.retry_after is not None:
                body["retry_after"] = self.retry_after
            return body
        return _valid_answer(self._record, remaining=self.remaining)

    def as_json(self) -> str:
        """Return `as_dict()` serialised compactly, from parts prepared once per record."""
        if not self.valid:
            if self.retry_after is None:
                return _REFUSAL_JSON[self.code]
            return _dumps(self.as_dict())
        head, tail = self._record.answer_parts()
        reply = self._reply
        return (
            f'{head}{{"requests":{_json_count(reply[1])},"tokens":{_json_count(reply[2])},'
            f'"budget_tokens":{_json_count(reply[3])},'
            f'"window_reset_seconds":{int(reply[4])}}}{tail}'
        )


def _valid_answer(record: KeyRecord, *, remaining) -> dict:
    return {
        "valid": True,
        "code": VALID,
        "key_id": record.public_id,
        "workspace_id": record.workspace_id,
        "environment": record.environment,
        "scopes": list(record.scopes),
        "limits": {
            "max_tokens_per_request": record.max_tokens,
            "requests_per_minute": record.rpm,
            "tokens_per_minute": record.tpm,
            "monthly_token_budget": record.budget,
        },
        "remaining": remaining,
        "data_handling": {
            "zero_data_retention": record.zero_data_retention,
            "training_opt_out": record.training_opt_out,
        },
    }


_MARK = "\x00remaining\x00"


def _dumps(value) -> str:
    return json.dumps(value, separators=(",", ":"))


def _none_if_unlimited(value) -> int | None:
    value = int(value)
    return None if value < 0 else value


def _json_count(value) -> str:
    value = int(value)
    return "null" if value < 0 else str(value)


# Refusals without a retry time are the same every time; share one of each.
_REFUSALS = {code: VerifyResult(valid=False, code=code) for code in CODES}
_REFUSAL_JSON = {code: _dumps(result.as_dict()) for code, result in _REFUSALS.items()}


def _refusal(code: str, retry_after: int | None = None) -> VerifyResult:
    if retry_after is None:
        return _REFUSALS[code]
    return VerifyResult(valid=False, code=code, retry_after=retry_after)


# ---------------------------------------------------------------------------- stores

# A fresh record (ARGV[9]) first raises a missing or lower generation to its own: its
# generation was read from the database with it, so the copy only ever catches up.
# KEYS: 1 generation, 2 this window's counters (hash: r requests, t tokens), 3 this
# month's budget counter, 4 last used, then 5 last used by the previous secret when
# ARGV[8] is "1", then the record key when ARGV[9] (a fresh record) is given.
# ARGV: 1 generation, 2 "rpm tpm budget" (0: none), 3 what to take from each counter
# (requests, tokens, budget: "need want hungry" each, see `_ask`), 4 seconds to the
# window's end, 5 budget counter TTL, 6 key id, 7 "time|ip", 8 previous secret used,
# 9 record, 10 record TTL. Few arguments on purpose: packing them is part of every call.
# A counter with a limit refuses when fewer than `need` units are free (or none at all
# when `hungry`); otherwise it grants up to `want` (at least `need`), never more than is
# free, so the sum of everything granted in a window never passes its limit.
# Reply: {1, requests free, tokens free, budget free (-1: no limit), seconds to the
# window's end, requests granted, tokens granted, budget granted}; {0, generation} when
# the record is stale; {2, retry after} rate limited; {3, 0} budget exhausted.
_LUA = """
local gen = redis.call('GET', KEYS[1])
if ARGV[9] and (not gen or tonumber(gen) < tonumber(ARGV[1])) then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', GEN_TTL)
  gen = ARGV[1]
end
gen = gen or '0'
if gen ~= ARGV[1] then return {0, gen} end
if ARGV[9] then redis.call('SET', KEYS[#KEYS], ARGV[9], 'EX', ARGV[10]) end
local lim = {}
for v in string.gmatch(ARGV[2], '%d+') do lim[#lim + 1] = tonumber(v) end
local ask = {}
for v in string.gmatch(ARGV[3], '%d+') do ask[#ask + 1] = tonumber(v) end
local reset = tonumber(ARGV[4])
local used = redis.call('HMGET', KEYS[2], 'r', 't')
local cur = {tonumber(used[1] or '0'), tonumber(used[2] or '0'), 0}
if lim[3] > 0 then cur[3] = tonumber(redis.call('GET', KEYS[3]) or '0') end
local grant = {0, 0, 0}
for _, i in ipairs({3, 1, 2}) do
  if lim[i] > 0 then
    local need, want, hungry = ask[3 * i - 2], ask[3 * i - 1], ask[3 * i]
    local free = lim[i] - cur[i]
    if free < need or (hungry == 1 and free <= 0) then
      if i == 3 then return {3, 0} end
      return {2, reset}
    end
    if need > 0 or hungry == 1 then grant[i] = math.min(math.max(want, need), free) end
  end
end
if grant[1] > 0 then cur[1] = redis.call('HINCRBY', KEYS[2], 'r', grant[1]) end
if grant[2] > 0 then cur[2] = redis.call('HINCRBY', KEYS[2], 't', grant[2]) end
if (grant[1] > 0 or grant[2] > 0) and not used[1] and not used[2] then
  redis.call('EXPIRE', KEYS[2], reset + 5)
end
if grant[3] > 0 then
  cur[3] = redis.call('INCRBY', KEYS[3], grant[3])
  if cur[3] == grant[3] then redis.call('EXPIRE', KEYS[3], tonumber(ARGV[5])) end
end
redis.call('HSET', KEYS[4], ARGV[6], ARGV[7])
if ARGV[8] == '1' then redis.call('HSET', KEYS[5], ARGV[6], ARGV[7]) end
local free = {-1, -1, -1}
for i = 1, 3 do
  if lim[i] > 0 then free[i] = lim[i] - cur[i] end
end
return {1, free[1], free[2], free[3], reset, grant[1], grant[2], grant[3]}
""".replace("GEN_TTL", str(GENERATION_TTL_SECONDS))

# Raise a key's generation to the database's value (never lower it) and drop its stored
# record. KEYS: 1 generation, 2 record; ARGV: 1 generation.
_RAISE_LUA = """
local gen = redis.call('GET', KEYS[1])
if not gen or tonumber(gen) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', GEN_TTL)
end
redis.call('DEL', KEYS[2])
return 1
""".replace("GEN_TTL", str(GENERATION_TTL_SECONDS))

# Take one shard of the last-used buffer: read it and delete it atomically (verifies
# meanwhile start a new one). KEYS: 1 the shard's hash.
_TAKE_LUA = """
local entries = redis.call('HGETALL', KEYS[1])
if #entries > 0 then redis.call('DEL', KEYS[1]) end
return entries
"""

# Store a fresh record (a refusal's path, which runs no limits script): raise a missing
# or lower generation to the record's, then store the record if its generation is the
# current one. KEYS: 1 generation, 2 record; ARGV: 1 generation, 2 record, 3 record TTL.
_SEED_LUA = """
local gen = redis.call('GET', KEYS[1])
if not gen or tonumber(gen) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', GEN_TTL)
  gen = ARGV[1]
end
if gen == ARGV[1] then redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[3]) end
return gen
""".replace("GEN_TTL", str(GENERATION_TTL_SECONDS))


# The workspace's monthly budget: refuse (-1) when used up or when the estimate does not
# fit, else count the estimate and return what is left. It lives under the workspace's
# own hash tag, so on a cluster it is a second script, sent in the same pipeline as the
# key's. KEYS: 1 the workspace's counter; ARGV: 1 budget, 2 estimated tokens, 3 TTL.
_WORKSPACE_LUA = """
local budget = tonumber(ARGV[1])
local est = tonumber(ARGV[2])
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if used >= budget or used + est > budget then return -1 end
if est > 0 then
  used = redis.call('INCRBY', KEYS[1], est)
  if used == est then redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3])) end
end
return budget - used
"""

# Take back what one script counted when the other refused the request. Only counters
# that still exist are changed, so a counter never outlives its TTL. KEYS: counters;
# ARGV: per key a hash field ("" for a plain counter) and the amount.
_GIVE_BACK_LUA = """
for i = 1, #KEYS do
  local field = ARGV[2 * i - 1]
  local amount = tonumber(ARGV[2 * i])
  if amount > 0 and redis.call('EXISTS', KEYS[i]) == 1 then
    if field == '' then
      redis.call('DECRBY', KEYS[i], amount)
    else
      redis.call('HINCRBY', KEYS[i], field, -amount)
    end
  end
end
return 1
"""


def _sha(script: str) -> str:
    # Redis names scripts by their SHA-1; nothing secret is hashed here.
    return hashlib.sha1(script.encode()).hexdigest()  # noqa: S324


_LUA_SHA = _sha(_LUA)
_RAISE_SHA = _sha(_RAISE_LUA)
_SEED_SHA = _sha(_SEED_LUA)
_TAKE_SHA = _sha(_TAKE_LUA)
_WORKSPACE_SHA = _sha(_WORKSPACE_LUA)
_GIVE_BACK_SHA = _sha(_GIVE_BACK_LUA)
_SCRIPTS = {
    _WORKSPACE_SHA: _WORKSPACE_LUA,
    _GIVE_BACK_SHA: _GIVE_BACK_LUA,
    _LUA_SHA: _LUA,
    _RAISE_SHA: _RAISE_LUA,
    _SEED_SHA: _SEED_LUA,
    _TAKE_SHA: _TAKE_LUA,
}


class RedisStore:
    """Generations, records, counters and the last-used buffer in Redis (all processes):
    one server, or a Redis Cluster (redis-py's client follows MOVED and ASK redirects)."""

    embedded = False
    prefix = ""

    def __init__(self, client, *, tracking: bool = True):
        from redis.cluster import RedisCluster

        self.client = client
        self.cluster = isinstance(client, RedisCluster)
        self.tracker = GenerationTracker(client, cluster=self.cluster) if tracking else None

    def head(self, record_key_: str, gen_key_: str):
        """Return (stored record or None, generation) in one round trip."""
        raw, gen = self.client.mget(record_key_, gen_key_)
        return raw, (gen.decode() if gen else "0")

    def gen(self, gen_key_: str) -> str:
        gen = self.client.get(gen_key_)
        return gen.decode() if gen else "0"

    def put(self, key: str, value, ttl: int) -> None:
        self.client.set(key, value, ex=ttl)

    def _run(self, sha: str, script_keys, args):
        """Run a script by SHA (loaded once if Redis has forgotten it, e.g. restarted)."""
        from redis.exceptions import NoScriptError

        command = ("EVALSHA", sha, len(script_keys), *script_keys, *args)
        try:
            return self.client.execute_command(*command)
        except NoScriptError:
            self.client.script_load(_SCRIPTS[sha])
            return self.client.execute_command(*command)

    def admit(self, script_keys, args):
        """Run the limits script."""
        return self._run(_LUA_SHA, script_keys, args)

    def admit_with_workspace(
        self, script_keys, args, workspace_key: str, workspace_args, *, estimated: int
    ):
        """Run the limits script and the workspace budget's in one pipeline (one round
        trip on one server); return the limits script's reply, or a budget refusal.

        Each script is atomic on its own slot; when one refuses what the other counted,
        the count is given back (a refusal's path only), so a request refused by either
        is counted by neither.
        """
        from redis.exceptions import NoScriptError

        calls = (
            (_WORKSPACE_SHA, [workspace_key], workspace_args),
            (_LUA_SHA, script_keys, args),
        )
        client = self.client
        # A cluster pipeline asks a node for the keys of a command it has no routing
        # rule for (one more round trip per script); the node of each script is known.
        route = getattr(client, "get_node_from_key", None)
        pipe = client.pipeline(transaction=False)
        for sha, keys_, values in calls:
            options = {"target_nodes": route(keys_[0])} if route is not None else {}
            pipe.execute_command("EVALSHA", sha, len(keys_), *keys_, *values, **options)
        replies = pipe.execute(raise_on_error=False)
        for index, reply in enumerate(replies):
            if isinstance(reply, NoScriptError):
                # Only the script Redis did not know is run again: the other one counted.
                replies[index] = self._run(*calls[index])
            elif isinstance(reply, Exception):
                raise reply
        left, reply = int(replies[0]), replies[1]
        status = int(reply[0])
        if left >= 0 and status == 1:
            return reply
        est = estimated
        if left >= 0 and est > 0:
            self._run(_GIVE_BACK_SHA, [workspace_key], ["", est])
        if left >= 0 or status == 0:
            return reply
        if status == 1:
            rpm, tpm, budget = (int(value) for value in args[1].split())
            self._run(
                _GIVE_BACK_SHA,
                [script_keys[1], script_keys[1], script_keys[2]],
                [
                    "r",
                    1 if rpm > 0 else 0,
                    "t",
                    est if tpm > 0 else 0,
                    "",
                    est if budget > 0 else 0,
                ],
            )
        return [3, 0]

    def seed(self, public_id: str, gen: str, record_json: str) -> None:
        """Store a fresh record, raising a missing or lower generation to its own."""
        self._run(
            _SEED_SHA,
            [gen_key(public_id), record_key(public_id)],
            [gen, record_json, RECORD_TTL_SECONDS],
        )

    def _run_many(self, calls) -> list:
        """Run (sha, keys, args) scripts in one pipeline: one round trip on one server,
        one per node on a cluster."""
        from redis.exceptions import NoScriptError

        def pipeline():
            pipe = self.client.pipeline(transaction=False)
            for sha, script_keys, args in calls:
                pipe.execute_command("EVALSHA", sha, len(script_keys), *script_keys, *args)
            return pipe

        try:
            return pipeline().execute()
        except NoScriptError:
            # Every script here may run twice: it raises, deletes or takes.
            for sha in {sha for sha, _keys, _args in calls}:
                self.client.script_load(_SCRIPTS[sha])
            return pipeline().execute()

    def bump(self, generations: dict[str, int]) -> None:
        """Raise each key's generation to the database's (never lower) and drop its record."""
        items = list(generations.items())
        for start in range(0, len(items), 500):
            self._run_many(
                [
                    (_RAISE_SHA, [gen_key(public_id), record_key(public_id)], [int(gen)])
                    for public_id, gen in items[start : start + 500]
                ]
            )
        if items:
            self.barrier()

    def barrier(self) -> None:
        """One more round trip to every node after a write: Redis has then written the
        write's invalidation pushes to every tracking connection (see `tracking`)."""
        if self.cluster:
            from redis.cluster import RedisCluster

            self.client.ping(target_nodes=RedisCluster.PRIMARIES)
        else:
            self.client.ping()

    def last_used_push(self, buffers: dict[str, dict]) -> None:
        """Add this process's buffered last-used entries to the shared buffer."""
        pipe = self.client.pipeline(transaction=False)
        for name, entries in buffers.items():
            if entries:
                pipe.hset(name, mapping=entries)
        pipe.execute()

    def last_used_take(self, previous: bool) -> dict[str, str]:
        """Take every shard of the buffer, each atomically (verifies meanwhile start anew)."""
        replies = self._run_many(
            [(_TAKE_SHA, [last_used_key(shard, previous)], []) for shard in range(SHARDS)]
        )
        taken = {}
        for entries in replies:
            for i in range(0, len(entries), 2):
                taken[_text(entries[i])] = _text(entries[i + 1])
        return taken

    def count(self, key: str, ttl: int) -> int:
        """Add one to a counter that starts a `ttl` window on its first count."""
        pipe = self.client.pipeline()
        pipe.incr(key)
        pipe.expire(key, ttl, nx=True)
        count, _ = pipe.execute()
        return int(count)

    def read_int(self, key: str) -> int:
        value = self.client.get(key)
        return int(value) if value else 0

    def clear(self) -> None:
        """Forget everything verify keeps here (tests; never in production code)."""
        keys_ = list(self.client.scan_iter(match=f"{key_prefix()}*", count=1000))
        if keys_:
            self.client.delete(*keys_)


_embedded_lock = threading.RLock()


class EmbeddedStore:
    """The Redis store's semantics in Django's default cache, atomic within this process.

    Every read-check-write runs under one process lock, so concurrent threads see
    exactly the limits Redis would give them. Other processes are not covered: see the
    module docstring.
    """

    embedded = True
    prefix = ""
    tracker = None

    def __init__(self, cache):
        self.cache = cache
        self.flushed_at = time.monotonic()

    def head(self, record_key_: str, gen_key_: str):
        with _embedded_lock:
            values = self.cache.get_many([record_key_, gen_key_])
        gen = values.get(gen_key_)
        return values.get(record_key_), (str(gen) if gen is not None else "0")

    def gen(self, gen_key_: str) -> str:
        gen = self.cache.get(gen_key_)
        return str(gen) if gen is not None else "0"

    def put(self, key: str, value, ttl: int) -> None:
        self.cache.set(key, value, timeout=ttl)

    def admit(self, script_keys, args):
        cache = self.cache
        gen_k, window_k, bud_k, lu_k = script_keys[:4]
        limits = [int(value) for value in args[1].split()]
        ask = [int(value) for value in args[2].split()]
        reset, budget_ttl = int(args[3]), int(args[4])
        with _embedded_lock:
            gen = cache.get(gen_k)
            if len(args) > 8 and (gen is None or int(gen) < int(args[0])):
                gen = int(args[0])
                cache.set(gen_k, gen, timeout=GENERATION_TTL_SECONDS)
            gen = str(gen) if gen is not None else "0"
            if gen != args[0]:
                return [0, gen]
            if len(args) > 8:
                cache.set(script_keys[-1], args[8], timeout=int(args[9]))
            used = cache.get_many([window_k, bud_k])
            used_r, used_t = used.get(window_k) or (0, 0)
            current = [used_r, used_t, int(used.get(bud_k) or 0)]
            grant = [0, 0, 0]
            for i in (2, 0, 1):
                if limits[i] <= 0:
                    continue
                need, want, hungry = ask[3 * i : 3 * i + 3]
                free = limits[i] - current[i]
                if free < need or (hungry and free <= 0):
                    return [3, 0] if i == 2 else [2, reset]
                if need > 0 or hungry:
                    grant[i] = min(max(want, need), free)
            for i in range(3):
                current[i] += grant[i]
            if grant[0] or grant[1]:
                cache.set(window_k, (current[0], current[1]), timeout=reset + 5)
            if grant[2]:
                cache.set(bud_k, current[2], timeout=budget_ttl)
            for buffer_key in (lu_k, script_keys[4]) if args[7] == "1" else (lu_k,):
                buffer = cache.get(buffer_key) or {}
                buffer[str(args[5])] = args[6]
                cache.set(buffer_key, buffer, timeout=None)
        free = [limits[i] - current[i] if limits[i] > 0 else -1 for i in range(3)]
        return [1, *free, reset, *grant]

    def admit_with_workspace(
        self, script_keys, args, workspace_key: str, workspace_args, *, estimated: int
    ):
        """The limits and the workspace budget together, atomic under the process lock."""
        cache = self.cache
        budget, est, ttl = (int(value) for value in workspace_args)
        with _embedded_lock:
            reply = self.admit(script_keys, args)
            if int(reply[0]) != 1:
                return reply
            used = int(cache.get(workspace_key) or 0)
            if used >= budget or used + est > budget:
                rpm, tpm, key_budget = (int(value) for value in args[1].split())
                window_k, bud_k = script_keys[1], script_keys[2]
                used_r, used_t = cache.get(window_k) or (0, 0)
                if rpm > 0 or (tpm > 0 and est > 0):
                    used_r -= 1 if rpm > 0 else 0
                    used_t -= est if tpm > 0 else 0
                    cache.set(window_k, (used_r, used_t), timeout=int(args[3]) + 5)
                if key_budget > 0 and est > 0:
                    cache.set(bud_k, int(cache.get(bud_k) or 0) - est, timeout=int(args[4]))
                return [3, 0]
            if est > 0:
                cache.set(workspace_key, used + est, timeout=ttl)
        return reply

    def _raise(self, public_id: str, gen) -> int:
        key = gen_key(public_id)
        current = self.cache.get(key)
        if current is None or int(current) < int(gen):
            current = int(gen)
            self.cache.set(key, current, timeout=GENERATION_TTL_SECONDS)
        return int(current)

    def seed(self, public_id: str, gen: str, record_json: str) -> None:
        with _embedded_lock:
            if self._raise(public_id, gen) == int(gen):
                self.cache.set(record_key(public_id), record_json, timeout=RECORD_TTL_SECONDS)

    def bump(self, generations: dict[str, int]) -> None:
        with _embedded_lock:
            for public_id, gen in generations.items():
                self._raise(public_id, gen)
                self.cache.delete(record_key(public_id))

    def last_used_take(self, previous: bool) -> dict[str, str]:
        names = [last_used_key(shard, previous) for shard in range(SHARDS)]
        taken: dict[str, str] = {}
        with _embedded_lock:
            for buffer in self.cache.get_many(names).values():
                taken.update(buffer)
            self.cache.delete_many(names)
        return taken

    def count(self, key: str, ttl: int) -> int:
        with _embedded_lock:
            now = time.time()
            value, until = self.cache.get(key) or (0, now + ttl)
            if until <= now:
                value, until = 0, now + ttl
            value += 1
            # The first count starts the window; later ones keep its end.
            self.cache.set(key, (value, until), timeout=max(int(until - now), 1))
        return value

    def read_int(self, key: str) -> int:
        return int(self.cache.get(key) or 0)

    def clear(self) -> None:
        self.cache.clear()

    def maybe_flush(self) -> None:
        """Write the last-used buffer from this process about once a minute."""
        now = time.monotonic()
        if now - self.flushed_at < EMBEDDED_FLUSH_SECONDS:
            return
        self.flushed_at = now
        if EMBEDDED_FLUSH_HOOKS:
            EMBEDDED_FLUSH_HOOKS[0]()


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


_state: dict = {"conf": None, "url": None, "store": None, "tracking": None}
_local: dict[str, tuple[KeyRecord | None, float]] = {}
# Quota leases by public id, and this process's last-used entries by Redis hash name.
_leases: dict = {}
_last_used: dict[str, dict[str, str]] = {}
_last_used_pushed = [time.monotonic()]


def store() -> RedisStore | EmbeddedStore:
    """Return the store: VERIFY_REDIS_URL when set, else the default cache (chosen again
    when either changes)."""
    conf = settings.CACHES["default"]
    url = settings.VERIFY_REDIS_URL
    current = _state["store"]
    tracking = settings.API_KEY_TRACKING
    if (
        current is not None
        and _state["conf"] is conf
        and _state["url"] == url
        and _state["tracking"] == tracking
    ):
        return current
    _divisors[0] = settings.API_KEY_LEASE_DIVISOR
    if url:
        current = RedisStore(redis_client_for(url), tracking=tracking)
    elif conf.get("BACKEND", "").startswith("django_redis."):
        # redis-py's connection pool notices a fork and reconnects in the child.
        from django_redis import get_redis_connection

        current = RedisStore(get_redis_connection("default"), tracking=tracking)
    else:
        from django.core.cache import caches

        current = EmbeddedStore(caches["default"])
    # Kept with the store, which is chosen again whenever CACHES changes.
    current.prefix = f"{conf.get('KEY_PREFIX', '')}:ak:"
    _local.clear()
    _leases.clear()
    _last_used.clear()
    if _state["store"] is not None and _state["store"].tracker is not None:
        _state["store"].tracker.close()
    _state["conf"] = conf
    _state["url"] = url
    _state["tracking"] = tracking
    _state["store"] = current
    return current


CLUSTER_SCHEMES = ("redis+cluster://", "rediss+cluster://")


def redis_client_for(url: str):
    """Return a client for `url`: `redis+cluster://host:port` (or `rediss+cluster://`)
    is a Redis Cluster reached through any of its nodes, anything else one server."""
    import redis
    from redis.cluster import RedisCluster

    if url.startswith(CLUSTER_SCHEMES):
        return RedisCluster.from_url(url.replace("+cluster", "", 1))
    return redis.Redis.from_url(url)


def redis_client():
    """Return the raw Redis client behind the default cache (Redis store only)."""
    current = store()
    if current.embedded:
        raise RuntimeError("The default cache is not Redis (embedded mode).")
    return current.client


def key_prefix() -> str:
    return f"{settings.CACHES['default'].get('KEY_PREFIX', '')}:ak:"


def shard_of(public_id: str) -> int:
    """Return the shard of a key: its slot on a cluster and its last-used buffer."""
    return zlib.crc32(public_id.encode()) % SHARDS


def shard_tag(public_id: str) -> str:
    """Return the hash tag every Redis key of this API key carries."""
    return f"{{s{shard_of(public_id)}}}"


# Every name starts with the key prefix and the shard's hash tag (the first "{...}" of
# a name decides its cluster slot); verify() builds the same names inline. Named apart
# from the counters of earlier versions, which counted from 1 in Redis alone and must
# not be mistaken for the database's generations.
def gen_key(public_id: str) -> str:
    return f"{key_prefix()}{shard_tag(public_id)}:generation:{public_id}"


def record_key(public_id: str) -> str:
    return f"{key_prefix()}{shard_tag(public_id)}:record:{public_id}"


def last_used_key(shard: int, previous: bool = False) -> str:
    return f"{key_prefix()}{{s{shard}}}:{'lup' if previous else 'lu'}"


def budget_key(public_id: str, key_id: int, *, at: datetime | None = None) -> str:
    at = at or datetime.fromtimestamp(time.time(), tz=UTC)
    return f"{key_prefix()}{shard_tag(public_id)}:bud:{key_id}:{at:%Y%m}"


def workspace_budget_key(workspace_id, *, at: datetime | None = None) -> str:
    """Return the name of a workspace's budget counter, under the workspace's hash tag."""
    at = at or datetime.fromtimestamp(time.time(), tz=UTC)
    return f"{key_prefix()}{{w{workspace_id}}}:wbud:{at:%Y%m}"


def local_cache_clear(public_id: str | None = None) -> None:
    """Forget cached records in this process (all of them, or one key's)."""
    if public_id is None:
        _local.clear()
        _leases.clear()
        tracker = _state["store"].tracker if _state["store"] is not None else None
        if tracker is not None:
            tracker.gens.clear()
    else:
        _local.pop(public_id, None)
        _leases.pop(public_id, None)


def _local_ttl() -> float:
    return settings.API_KEY_LOCAL_CACHE_SECONDS


# ---------------------------------------------------------------------------- loading

# A PL/pgSQL function (migration 0003) keeps its plan per database session. It mirrors
# `_load_with_orm`; a change to what a record holds needs a migration replacing it (a
# test compares the two).
_RECORD_SQL = "SELECT * FROM apikeys_key_record(%s, %s)"


def _load_from_db(public_id: str) -> KeyRecord | None:
    """Read one key with its workspace and its owners' opt-out in one query."""
    from django.db import connection

    from accounts.permissions import Role

    if connection.vendor != "postgresql":
        return _load_with_orm(public_id)
    with connection.cursor() as cursor:
        cursor.execute(_RECORD_SQL, [public_id, Role.OWNER.value])
        row = cursor.fetchone()
    if row is None:
        return None
    return KeyRecord(
        row[0],
        public_id,
        str(row[1]),
        row[2],
        json.loads(row[3]) if row[3] else [],
        row[4],
        row[5],
        row[6],
        row[7],
        row[8],
        row[9],
        bool(row[10]),
        json.loads(row[11]) if row[11] else [],
        row[12],
        row[13],
        row[14],
        row[15],
        bool(row[16]),
        bool(row[17]),
        str(row[18]),
        row[19],
    )


def _load_with_orm(public_id: str) -> KeyRecord | None:
    """The same read through the ORM, for the embedded SQLite database."""
    from django.apps import apps
    from django.db.models import Exists, OuterRef

    from accounts.permissions import Role
    from apikeys.keys.models import ApiKey

    privacy_settings = apps.get_model("privacy", "PrivacySettings")
    owner_opted_out = privacy_settings.objects.filter(
        training_opt_out=True,
        user__memberships__workspace_id=OuterRef("workspace_id"),
        user__memberships__role=Role.OWNER,
    )
    row = (
        ApiKey.objects.filter(public_id=public_id)
        .annotate(owner_opt_out=Exists(owner_opted_out))
        .values_list(
            "id",
            "workspace_id",
            "environment",
            "scopes",
            "secret_hash",
            "pepper_id",
            "previous_secret_hash",
            "previous_pepper_id",
            "previous_secret_expires_at",
            "expires_at",
            "revoked_at",
            "deleted_at",
            "workspace__deleted_at",
            "allowed_ips",
            "max_tokens_per_request",
            "requests_per_minute",
            "tokens_per_minute",
            "monthly_token_budget",
            "workspace__zero_data_retention",
            "workspace__training_opt_out",
            "owner_opt_out",
            "generation",
            "workspace__monthly_token_budget",
        )
        .order_by()
        .first()
    )
    if row is None:
        return None
    return KeyRecord(
        row[0],
        public_id,
        str(row[1]),
        row[2],
        list(row[3] or []),
        row[4],
        row[5],
        row[6],
        row[7],
        _ts(row[8]),
        _ts(row[9]),
        bool(row[10] or row[11] or row[12]),
        list(row[13] or []),
        row[14],
        row[15],
        row[16],
        row[17],
        row[18],
        bool(row[19] or row[20]),
        str(row[21]),
        row[22],
    )


def _ts(value: datetime | None) -> float | None:
    return value.timestamp() if value is not None else None


def _fetch(current, public_id: str) -> tuple[KeyRecord | None, str | None]:
    """Read the record from the store if current, else from the database.

    Return (record, its JSON when it still has to be stored). A fresh record is stored
    by the limits script that follows, in the same round trip, and only if its
    generation is still current then.
    """
    raw, gen = current.head(record_key(public_id), gen_key(public_id))
    if raw is not None:
        if raw == _NEGATIVE or raw == "-":
            _local_put(public_id, None)
            return None, None
        cached = KeyRecord.from_json(raw)
        if cached is not None and cached.gen == gen:
            _local_put(public_id, cached)
            return cached, None
    return _fetch_from_db(current, public_id)


def _fetch_from_db(current, public_id: str):
    # The generation comes from the row itself, so it always describes this record; a
    # change committed meanwhile raises the shared copy above it and the next check
    # refetches.
    record = _load_from_db(public_id)
    if record is None:
        current.put(record_key(public_id), _NEGATIVE, NEGATIVE_TTL_SECONDS)
        _local_put(public_id, None)
        return None, None
    _local_put(public_id, record)
    return record, record.to_json()


def _local_put(public_id: str, record: KeyRecord | None) -> None:
    if len(_local) >= LOCAL_CACHE_MAX:
        _local.clear()
    _local[public_id] = (record, time.monotonic())


# ---------------------------------------------------------------------------- verify

# (month start, month end, "YYYYMM", seconds the budget counter outlives the month end)
_month: list = [0.0, 0.0, "", 0]


def _month_of(now: float) -> list:
    month = _month
    if month[0] <= now < month[1]:
        return month
    at = datetime.fromtimestamp(now, tz=UTC)
    start = at.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    if start.month == 12:
        end = start.replace(year=start.year + 1, month=1)
    else:
        end = start.replace(month=start.month + 1)
    month[:] = [start.timestamp(), end.timestamp(), f"{start:%Y%m}", 86400]
    return month


def _check(record: KeyRecord, parsed, secret: bytes, now: float, scope, client_ip, max_tokens):
    """Return (refusal code or None, whether the previous secret matched)."""
    table = keys.peppers()[0]
    previous = False
    pepper = table.get(record.pepper_id)
    if (
        pepper is None
        or not record.digest
        or not hmac.compare_digest(hmac.digest(pepper, secret, "sha256"), record.digest)
    ):
        pepper = table.get(record.previous_pepper_id)
        if (
            pepper is None
            or not record.previous_digest
            or not hmac.compare_digest(
                hmac.digest(pepper, secret, "sha256"), record.previous_digest
            )
        ):
            return UNKNOWN, False
        if record.previous_expires is None or record.previous_expires <= now:
            return EXPIRED, True
        previous = True
    if record.environment != parsed.environment:
        return UNKNOWN, previous
    if record.revoked:
        return REVOKED, previous
    if record.expires is not None and record.expires <= now:
        return EXPIRED, previous
    if record.networks and not _ip_allowed(record.networks, client_ip):
        return IP_NOT_ALLOWED, previous
    if scope is not None and scope not in record.scope_set:
        return SCOPE_MISSING, previous
    if max_tokens is not None and record.max_tokens is not None and max_tokens > record.max_tokens:
        return MAX_TOKENS_EXCEEDED, previous
    return None, previous


def _ip_allowed(networks, client_ip) -> bool:
    if not client_ip:
        return False
    try:
        address = ipaddress.ip_address(client_ip)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return any(address in net or (mapped is not None and mapped in net) for net in networks)


class Lease:
    """What this process holds of one key's counters: units taken from the shared
    counter and not yet used (`r`, `t`, `b`), and what the counter had free after the
    last take (`free_*`, for the answer's "remaining"). Tied to the record's generation:
    a changed key (new limits) starts with nothing."""

    __slots__ = ("b", "budget_key", "free_b", "free_r", "free_t", "gen", "month", "r", "t")
    __slots__ += ("window", "window_key")

    def __init__(self, gen: str):
        self.gen = gen
        self.window = -1
        self.window_key = ""
        self.month = ""
        self.budget_key = ""
        self.r = self.t = self.b = 0
        self.free_r = self.free_t = self.free_b = -1


def lease_size(limit: int | None, divisor: int) -> int:
    """Units one take may lease beyond what a call needs: a small share of the limit,
    none for a limit under `divisor` (such keys count every call in the shared store)."""
    return (limit or 0) // divisor if divisor > 0 else 0


# Every counter a call counts: (record's limit attribute, lease attribute, lease divisor
# setting). A further counter (e.g. one under the workspace's hash tag) is one more row
# here, one more key and ARGV triple for the script.
def _ask(record: KeyRecord, lease: Lease, estimated: int, leasing: bool) -> str:
    """Return the script's ARGV[3]: "need want hungry" for requests, tokens, budget."""
    parts = []
    for limit, held, wanted, divisor in (
        (record.rpm, lease.r, 1, _divisors[0]),
        (record.tpm, lease.t, estimated, _divisors[0]),
        (record.budget, lease.b, estimated, _divisors[1]),
    ):
        if not limit:
            parts.append("0 0 0")
            continue
        need = wanted - held if wanted > held else 0
        hungry = 1 if held <= 0 and need == 0 else 0
        want = need + lease_size(limit, divisor) if leasing and (need or hungry) else need
        parts.append(f"{need} {want} {hungry}")
    return " ".join(parts)


# (rate windows, monthly budget): a lease is at most 1/divisor of the limit.
_divisors = [100, 10_000]
# Threads of one process (gthread workers) share the leases.
_lease_lock = threading.Lock()


def _take_locally(record: KeyRecord, lease: Lease, estimated: int, reset: int):
    """Count a call against this process's leases; the script's reply, or None when a
    lease falls short (the call then takes more from the shared counters)."""
    with _lease_lock:
        return _consume(record, lease, estimated, reset)


def _consume(record: KeyRecord, lease: Lease, estimated: int, reset: int):
    if record.rpm and lease.r < 1:
        return None
    if record.tpm and (lease.t < estimated or lease.t <= 0):
        return None
    if record.budget and (lease.b < estimated or lease.b <= 0):
        return None
    if record.rpm:
        lease.r -= 1
    if record.tpm:
        lease.t -= estimated
    if record.budget:
        lease.b -= estimated
    return [
        1,
        lease.free_r + lease.r if record.rpm else -1,
        lease.free_t + lease.t if record.tpm else -1,
        lease.free_b + lease.b if record.budget else -1,
        reset,
    ]


def _lease_granted(record: KeyRecord, lease: Lease, estimated: int, reply) -> list:
    """Add what the script granted to the lease, count this call, return the answer's
    reply (remaining = free in the shared counter plus still held here)."""
    with _lease_lock:
        lease.r += int(reply[5])
        lease.t += int(reply[6])
        lease.b += int(reply[7])
        lease.free_r, lease.free_t, lease.free_b = int(reply[1]), int(reply[2]), int(reply[3])
        return _consume(record, lease, estimated, int(reply[4]))


def _lease_for(record: KeyRecord, public_id: str, window: int, month: str, base: str) -> Lease:
    lease = _leases.get(public_id)
    if lease is None or lease.gen != record.gen:
        if len(_leases) >= LOCAL_CACHE_MAX:
            _leases.clear()
        lease = _leases[public_id] = Lease(record.gen)
    if lease.window != window:
        # The window's shared counter expires with it: whatever was left is given back.
        lease.window = window
        lease.window_key = f"{base}win:{record.id_text}:{window}"
        lease.r = lease.t = 0
    if lease.month != month:
        lease.month = month
        lease.budget_key = f"{base}bud:{record.id_text}:{month}"
        lease.b = 0
    return lease


def leases_return() -> None:
    """Give the unused part of every lease back to the shared counters (at exit)."""
    current = _state["store"]
    if current is None or current.embedded or not _leases:
        return
    now = time.time()
    window = int(now) // WINDOW_SECONDS
    month = _month_of(now)
    try:
        pipe = current.client.pipeline(transaction=False)
        for lease in _leases.values():
            # Only to counters still running; each keeps (or gets) its expiry.
            if lease.window == window and (lease.r > 0 or lease.t > 0):
                pipe.hincrby(lease.window_key, "r", -lease.r)
                pipe.hincrby(lease.window_key, "t", -lease.t)
                pipe.expire(lease.window_key, WINDOW_SECONDS + 5, nx=True)
            if lease.month == month[2] and lease.b > 0:
                pipe.incrby(lease.budget_key, -lease.b)
                pipe.expire(lease.budget_key, int(month[1] - now) + 1 + month[3], nx=True)
        _leases.clear()
        pipe.execute()
    except Exception:  # noqa: S110 - at exit, best effort: the bound holds anyway
        pass


def last_used_push() -> None:
    """Hand this process's buffered last-used entries to the shared buffer now."""
    current = _state["store"]
    _last_used_pushed[0] = time.monotonic()
    if not _last_used or current is None or current.embedded:
        _last_used.clear()
        return
    with _lease_lock:
        buffers = {name: dict(entries) for name, entries in _last_used.items()}
        _last_used.clear()
    current.last_used_push(buffers)


def _at_exit() -> None:
    with contextlib.suppress(Exception):  # at exit, best effort
        last_used_push()
    leases_return()


atexit.register(_at_exit)


def verify(
    key,
    *,
    required_scope: str | None = None,
    client_ip: str | None = None,
    max_tokens: int | None = None,
    estimated_tokens: int = 0,
) -> VerifyResult:
    """Verify `key` for one request and count it against the key's limits."""
    try:
        parsed = keys.parse(key)
    except keys.MalformedKey:
        return _REFUSALS[MALFORMED]
    estimated_tokens = int(estimated_tokens or 0)
    if estimated_tokens < 0:
        estimated_tokens = 0
    if max_tokens is not None:
        max_tokens = int(max_tokens)
    secret = parsed.secret.encode("ascii")
    current = store()
    tracker = current.tracker
    if tracker is not None:
        # Forget every generation Redis has said changed, before anything is trusted.
        tracker.poll()
    public_id = parsed.public_id
    entry = _local.get(public_id)
    pending = None  # a fresh record's JSON, stored by the script if still current
    fresh = False
    if entry is None or time.monotonic() - entry[1] > _local_ttl():
        record, pending = _fetch(current, public_id)
        fresh = True
    else:
        record = entry[0]
    if record is None:
        # Public ids are random and never reused, so a miss cannot go stale.
        return _REFUSALS[UNKNOWN]

    for _attempt in range(3):
        now = time.time()
        code, previous = _check(record, parsed, secret, now, required_scope, client_ip, max_tokens)
        if code is not None:
            if not fresh and current.gen(gen_key(public_id)) != record.gen:
                record, pending = _fetch_from_db(current, public_id)
                fresh = True
                if record is None:
                    return _REFUSALS[UNKNOWN]
                continue
            if pending is not None:
                current.seed(public_id, record.gen, pending)
            return _refusal(code)

        second = int(now)
        window_reset = WINDOW_SECONDS - second % WINDOW_SECONDS
        window = second // WINDOW_SECONDS
        month = _month_of(now)
        base = f"{current.prefix}{record.tag}:"
        key_id = record.id_text
        gen_name = f"{base}generation:{public_id}"
        used = f"{second}|" if record.zero_data_retention else f"{second}|{client_ip or ''}"
        lease = _lease_for(record, public_id, window, month[2], base)
        # A workspace budget is shared by every key of the workspace, on a counter of its
        # own: no lease covers it, so such a key counts every call in Redis, and takes
        # no lease of its own counters either (a refusal gives back exactly what the
        # call took).
        leasing = tracker is not None and not record.workspace_budget
        if pending is None and leasing and tracker.get(gen_name) == record.gen:
            # The generation is the one Redis last told this process: the record is
            # current. No round trip while the leases last.
            reply = _take_locally(record, lease, estimated_tokens, window_reset)
            if reply is not None:
                with _lease_lock:
                    _last_used.setdefault(f"{base}lu", {})[key_id] = used
                    if previous:
                        _last_used.setdefault(f"{base}lup", {})[key_id] = used
                if time.monotonic() - _last_used_pushed[0] >= LAST_USED_PUSH_SECONDS:
                    last_used_push()
                return VerifyResult(
                    valid=True, code=VALID, previous_secret=previous, record=record, reply=reply
                )
        script_keys = [gen_name, lease.window_key, lease.budget_key, f"{base}lu"]
        if previous:
            script_keys.append(f"{base}lup")
        args = [
            record.gen,
            record.limit_arg,
            _ask(record, lease, estimated_tokens, leasing),
            window_reset,
            int(month[1] - now) + 1 + month[3],
            key_id,
            used,
            "1" if previous else "0",
        ]
        if pending is not None:
            script_keys.append(f"{base}record:{public_id}")
            args.append(pending)
            args.append(RECORD_TTL_SECONDS)
        if record.workspace_budget:
            reply = current.admit_with_workspace(
                script_keys,
                args,
                f"{current.prefix}{{w{record.workspace_id}}}:wbud:{month[2]}",
                (record.workspace_budget, estimated_tokens, args[4]),
                estimated=estimated_tokens,
            )
        else:
            reply = current.admit(script_keys, args)
        if current.embedded:
            current.maybe_flush()
        status = int(reply[0])
        if status == 1:
            if tracker is not None and tracker.get(gen_name) is None:
                # Track the generation so that the next call can trust its copy.
                tracker.track(gen_name)
            return VerifyResult(
                valid=True,
                code=VALID,
                previous_secret=previous,
                record=record,
                reply=_lease_granted(record, lease, estimated_tokens, reply),
            )
        if status == 0:
            record, pending = _fetch_from_db(current, public_id)
            fresh = True
            if record is None:
                return _REFUSALS[UNKNOWN]
            continue
        if status == 2:
            return _refusal(RATE_LIMITED, retry_after=int(reply[1]))
        return _REFUSALS[BUDGET_EXHAUSTED]
    # A key changing on every attempt is being edited right now; refuse this once.
    return _REFUSALS[UNKNOWN]


def budget_used(*, public_id: str, key_id: int) -> int:
    """Return the tokens counted against a key's budget this month."""
    return store().read_int(budget_key(public_id, key_id))


def workspace_budget_used(*, workspace_id) -> int:
    """Return the tokens counted against a workspace's budget this month."""
    return store().read_int(workspace_budget_key(workspace_id))
