"""Key verification: the hot path the gateway calls on every model request.

parse (no I/O) → look up by public id (in-process cache, then Redis, then PostgreSQL)
→ constant-time HMAC compare → state → IP allowlist → scope → max tokens → limits.

Every cached record carries the generation its key had in Redis when it was read.
Services bump the generation (on commit) whenever a key or its workspace changes, so a
record read before the change can never pass: the one Lua script a warm call runs
checks the generation, enforces requests/min, tokens/min and the monthly budget, and
buffers last-used time and IP, atomically and in one round trip. Refusals taken from a
cached record are confirmed against the generation too, so they are never stale either.
No database write happens per call: `api_key_last_used_flush` writes the buffer in batches.
"""

from __future__ import annotations

import ipaddress
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.conf import settings

from apikeys import keys

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


@dataclass(slots=True)
class VerifyResult:
    """The answer for one key. `code` is "valid" or one of CODES."""

    valid: bool
    code: str
    retry_after: int | None = None
    key_id: str | None = None
    workspace_id: str | None = None
    environment: str | None = None
    scopes: list[str] = field(default_factory=list)
    limits: dict | None = None
    remaining: dict | None = None
    data_handling: dict | None = None
    previous_secret: bool = False
    # The database id, for callers inside the console (REST key authentication).
    pk: int | None = None

    def as_dict(self) -> dict:
        """Return the JSON body the verify endpoint answers with."""
        if not self.valid:
            body = {"valid": False, "code": self.code}
            if self.retry_after is not None:
                body["retry_after"] = self.retry_after
            return body
        return {
            "valid": True,
            "code": VALID,
            "key_id": self.key_id,
            "workspace_id": self.workspace_id,
            "environment": self.environment,
            "scopes": self.scopes,
            "limits": self.limits,
            "remaining": self.remaining,
            "data_handling": self.data_handling,
        }


@dataclass(slots=True)
class KeyRecord:
    """What verify needs to know about one key; cached in-process and in Redis."""

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
    networks: tuple = ()
    scope_set: frozenset = frozenset()

    def __post_init__(self):
        self.networks = tuple(ipaddress.ip_network(cidr, strict=False) for cidr in self.allowed_ips)
        self.scope_set = frozenset(self.scopes)

    def to_json(self) -> str:
        data = {
            name: getattr(self, name)
            for name in self.__dataclass_fields__
            if name not in ("networks", "scope_set")
        }
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw) -> KeyRecord:
        return cls(**json.loads(raw))


# ---------------------------------------------------------------------------- Redis

_LUA = """
local gen = redis.call('GET', KEYS[1]) or '0'
if gen ~= ARGV[1] then return {0, gen} end
local rpm = tonumber(ARGV[2])
local tpm = tonumber(ARGV[3])
local budget = tonumber(ARGV[4])
local est = tonumber(ARGV[5])
local reset = tonumber(ARGV[6])
local used_b = 0
if budget > 0 then
  used_b = tonumber(redis.call('GET', KEYS[4]) or '0')
  if used_b >= budget or used_b + est > budget then return {3, 0} end
end
local used_r = 0
if rpm > 0 then
  used_r = tonumber(redis.call('GET', KEYS[2]) or '0')
  if used_r >= rpm then return {2, reset} end
end
local used_t = 0
if tpm > 0 then
  used_t = tonumber(redis.call('GET', KEYS[3]) or '0')
  if used_t >= tpm or used_t + est > tpm then return {2, reset} end
end
if rpm > 0 then
  used_r = redis.call('INCR', KEYS[2])
  if used_r == 1 then redis.call('EXPIRE', KEYS[2], reset + 5) end
end
if tpm > 0 and est > 0 then
  used_t = redis.call('INCRBY', KEYS[3], est)
  if used_t == est then redis.call('EXPIRE', KEYS[3], reset + 5) end
end
if budget > 0 and est > 0 then
  used_b = redis.call('INCRBY', KEYS[4], est)
  if used_b == est then redis.call('EXPIRE', KEYS[4], tonumber(ARGV[7])) end
end
redis.call('HSET', KEYS[5], ARGV[8], ARGV[9])
if ARGV[10] == '1' then redis.call('HSET', KEYS[6], ARGV[8], ARGV[9]) end
local r = -1
local t = -1
local b = -1
if rpm > 0 then r = rpm - used_r end
if tpm > 0 then t = tpm - used_t end
if budget > 0 then b = budget - used_b end
return {1, r, t, b, reset}
"""

_state: dict = {"client": None, "script": None}
_local: dict[str, tuple[KeyRecord | None, float]] = {}


def redis_client():
    """Return the raw Redis client behind the default cache (kept per process).

    redis-py's connection pool notices a fork and reconnects in the child.
    """
    client = _state["client"]
    if client is None:
        from django_redis import get_redis_connection

        client = get_redis_connection("default")
        _state["script"] = client.register_script(_LUA)
        _state["client"] = client
    return client


def key_prefix() -> str:
    return f"{settings.CACHES['default'].get('KEY_PREFIX', '')}:ak:"


def gen_key(public_id: str) -> str:
    return f"{key_prefix()}gen:{public_id}"


def record_key(public_id: str) -> str:
    return f"{key_prefix()}rec:{public_id}"


def last_used_key(previous: bool = False) -> str:
    return f"{key_prefix()}{'lup' if previous else 'lu'}"


def budget_key(key_id: int, *, at: datetime | None = None) -> str:
    at = at or datetime.fromtimestamp(time.time(), tz=UTC)
    return f"{key_prefix()}bud:{key_id}:{at:%Y%m}"


def local_cache_clear(public_id: str | None = None) -> None:
    """Forget cached records in this process (all of them, or one key's)."""
    if public_id is None:
        _local.clear()
    else:
        _local.pop(public_id, None)


def _local_ttl() -> float:
    return float(getattr(settings, "API_KEY_LOCAL_CACHE_SECONDS", 30))


# ---------------------------------------------------------------------------- loading


def _load_from_db(public_id: str, gen: str) -> KeyRecord | None:
    from django.apps import apps
    from django.db.models import Exists, OuterRef

    from accounts.permissions import Role
    from apikeys.models import ApiKey

    privacy_settings = apps.get_model("privacy", "PrivacySettings")
    owner_opted_out = privacy_settings.objects.filter(
        training_opt_out=True,
        user__memberships__workspace_id=OuterRef("workspace_id"),
        user__memberships__role=Role.OWNER,
    )
    row = (
        ApiKey.objects.filter(public_id=public_id)
        .annotate(owner_opt_out=Exists(owner_opted_out))
        .values(
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
            "allowed_ips",
            "max_tokens_per_request",
            "requests_per_minute",
            "tokens_per_minute",
            "monthly_token_budget",
            "workspace__deleted_at",
            "workspace__zero_data_retention",
            "workspace__training_opt_out",
            "owner_opt_out",
        )
        .first()
    )
    if row is None:
        return None
    return KeyRecord(
        id=row["id"],
        public_id=public_id,
        workspace_id=str(row["workspace_id"]),
        environment=row["environment"],
        scopes=list(row["scopes"] or []),
        secret_hash=row["secret_hash"],
        pepper_id=row["pepper_id"],
        previous_secret_hash=row["previous_secret_hash"],
        previous_pepper_id=row["previous_pepper_id"],
        previous_expires=_ts(row["previous_secret_expires_at"]),
        expires=_ts(row["expires_at"]),
        revoked=bool(row["revoked_at"] or row["deleted_at"] or row["workspace__deleted_at"]),
        allowed_ips=list(row["allowed_ips"] or []),
        max_tokens=row["max_tokens_per_request"],
        rpm=row["requests_per_minute"],
        tpm=row["tokens_per_minute"],
        budget=row["monthly_token_budget"],
        zero_data_retention=row["workspace__zero_data_retention"],
        training_opt_out=bool(row["workspace__training_opt_out"] or row["owner_opt_out"]),
        gen=gen,
    )


def _ts(value: datetime | None) -> float | None:
    return value.timestamp() if value is not None else None


def _fetch(client, public_id: str, *, skip_redis: bool = False) -> KeyRecord | None:
    """Read the record from Redis if current, else from PostgreSQL (and cache it)."""
    raw, gen = client.mget(record_key(public_id), gen_key(public_id))
    gen = (gen or b"0").decode() if isinstance(gen, bytes) else (gen or "0")
    record = None
    if raw is not None and not skip_redis:
        if raw in (b"-", "-"):
            _local_put(public_id, None)
            return None
        cached = KeyRecord.from_json(raw)
        if cached.gen == gen:
            record = cached
    if record is None:
        # The generation was read before the row, so a change committed in between
        # leaves this record one generation behind and the next check refetches it.
        record = _load_from_db(public_id, gen)
        if record is None:
            client.set(record_key(public_id), "-", ex=NEGATIVE_TTL_SECONDS)
            _local_put(public_id, None)
            return None
        client.set(record_key(public_id), record.to_json(), ex=RECORD_TTL_SECONDS)
    _local_put(public_id, record)
    return record


def _local_put(public_id: str, record: KeyRecord | None) -> None:
    if len(_local) >= LOCAL_CACHE_MAX:
        _local.clear()
    _local[public_id] = (record, time.monotonic())


# ---------------------------------------------------------------------------- verify


def _refusal(code: str, retry_after: int | None = None) -> VerifyResult:
    return VerifyResult(valid=False, code=code, retry_after=retry_after)


def _check(record: KeyRecord, parsed, now: float, required_scope, client_ip, max_tokens):
    """Return (refusal code or None, whether the previous secret matched)."""
    previous = False
    if not keys.secret_matches(
        parsed.secret, stored_hash=record.secret_hash, pepper_id=record.pepper_id
    ):
        if not keys.secret_matches(
            parsed.secret,
            stored_hash=record.previous_secret_hash,
            pepper_id=record.previous_pepper_id,
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
    if required_scope is not None and required_scope not in record.scope_set:
        return SCOPE_MISSING, previous
    if (
        max_tokens is not None
        and record.max_tokens is not None
        and int(max_tokens) > record.max_tokens
    ):
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
        return _refusal(MALFORMED)
    estimated_tokens = max(int(estimated_tokens or 0), 0)
    client = redis_client()
    public_id = parsed.public_id
    entry = _local.get(public_id)
    fresh = False
    if entry is None or time.monotonic() - entry[1] > _local_ttl():
        record = _fetch(client, public_id)
        fresh = True
    else:
        record = entry[0]
    if record is None:
        # Public ids are random and never reused, so a miss cannot go stale.
        return _refusal(UNKNOWN)

    for _attempt in range(3):
        now = time.time()
        code, previous = _check(record, parsed, now, required_scope, client_ip, max_tokens)
        if code is not None:
            if not fresh:
                current = client.get(gen_key(public_id))
                current = current.decode() if current else "0"
                if current != record.gen:
                    record = _fetch(client, public_id, skip_redis=True)
                    fresh = True
                    if record is None:
                        return _refusal(UNKNOWN)
                    continue
            return _refusal(code)

        window_reset = WINDOW_SECONDS - int(now) % WINDOW_SECONDS
        window = int(now) // WINDOW_SECONDS
        month = datetime.fromtimestamp(now, tz=UTC)
        last_used = f"{int(now)}|{'' if record.zero_data_retention else (client_ip or '')}"
        prefix = key_prefix()
        reply = _state["script"](
            keys=[
                f"{prefix}gen:{public_id}",
                f"{prefix}rpm:{record.id}:{window}",
                f"{prefix}tpm:{record.id}:{window}",
                f"{prefix}bud:{record.id}:{month:%Y%m}",
                f"{prefix}lu",
                f"{prefix}lup",
            ],
            args=[
                record.gen,
                record.rpm or 0,
                record.tpm or 0,
                record.budget or 0,
                estimated_tokens,
                window_reset,
                _seconds_to_month_end(month) + 86400,
                record.id,
                last_used,
                "1" if previous else "0",
            ],
            client=client,
        )
        status = int(reply[0])
        if status == 0:
            record = _fetch(client, public_id, skip_redis=True)
            fresh = True
            if record is None:
                return _refusal(UNKNOWN)
            continue
        if status == 2:
            return _refusal(RATE_LIMITED, retry_after=int(reply[1]))
        if status == 3:
            return _refusal(BUDGET_EXHAUSTED)
        return VerifyResult(
            valid=True,
            code=VALID,
            key_id=public_id,
            pk=record.id,
            workspace_id=record.workspace_id,
            environment=record.environment,
            scopes=record.scopes,
            limits={
                "max_tokens_per_request": record.max_tokens,
                "requests_per_minute": record.rpm,
                "tokens_per_minute": record.tpm,
                "monthly_token_budget": record.budget,
            },
            remaining={
                "requests": _none_if_unlimited(reply[1]),
                "tokens": _none_if_unlimited(reply[2]),
                "budget_tokens": _none_if_unlimited(reply[3]),
                "window_reset_seconds": int(reply[4]),
            },
            data_handling={
                "zero_data_retention": record.zero_data_retention,
                "training_opt_out": record.training_opt_out,
            },
            previous_secret=previous,
        )
    # A key changing on every attempt is being edited right now; refuse this once.
    return _refusal(UNKNOWN)


def _none_if_unlimited(value) -> int | None:
    value = int(value)
    return None if value < 0 else value


def _seconds_to_month_end(at: datetime) -> int:
    if at.month == 12:
        end = at.replace(year=at.year + 1, month=1, day=1, hour=0, minute=0, second=0)
    else:
        end = at.replace(month=at.month + 1, day=1, hour=0, minute=0, second=0)
    return int((end - at).total_seconds()) + 1


def budget_used(*, key_id: int) -> int:
    """Return the tokens counted against a key's budget this month."""
    value = redis_client().get(budget_key(key_id))
    return int(value) if value else 0
