"""Dashboard pages and list endpoints: server time per request, in process and over HTTP.

Loads two workspaces of one owner into a database of its own (`console_bench_pages`,
created here): a small one (50 keys, 200,000 usage records over the last 7 days, the
audit events those keys' creation wrote) and a large one (5,000 keys, 1,000,000 usage
records, 100,000 audit events). Usage goes through `usage_records_ingest` in batches of
1,000 as the gateway reports it (each batch received when its last event happened),
then the daily rollups of the 7 days are run.

Then, for every signed-in dashboard page and list endpoint of both workspaces:

1. in process (Django's test client, the full middleware stack, no network): median and
   p95 of `--runs` requests, the queries of one request and their SQL time;
2. over HTTP for the keys list, usage page, audit log and usage API: gunicorn with 2 sync
   workers on a free port, `wrk -t2 -c8 -d<seconds>s` with the signed-in session cookie:
   requests/s, p50, p99.

Exits non-zero when a page answers anything but 200 or its in-process server time
(median of this process's CPU time plus the time spent waiting for SQL, which a busy
shared machine inflates far less than wall time) is above TARGET_MS at either size.

    .venv/bin/python bench/bench_pages.py                        # both sizes, HTTP too
    .venv/bin/python bench/bench_pages.py --large-records 200000 --no-http   # quicker
    .venv/bin/python bench/bench_pages.py --reuse                # keep the loaded data
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
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

from bench.databases import database_urls, recreate_database  # noqa: E402

BENCH_DB = os.environ.get("BENCH_PAGES_DB", "console_bench_pages")
TARGET_MS = 25.0
AIM_MS = 10.0
MODELS = ["large-1", "large-1", "medium-2", "small-1", "embed-1"]
BATCH = 1000
DAYS = 7

WRK_LUA = """
wrk.headers["Cookie"] = "%s"
done = function(summary, latency, requests)
  io.write(string.format("RESULT %%d %%f %%f %%d\\n", summary.requests,
    latency:percentile(50), latency:percentile(99), summary.errors.status))
end
"""


def _setup_django(bench_url: str, *, fresh: bool) -> None:
    os.environ["DATABASE_URL"] = bench_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.pages_settings"
    os.environ["REDIS_URL"] = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
    os.environ["CACHE_KEY_PREFIX"] = "bench-pages"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    if fresh:
        from django.core.cache import cache

        cache.clear()


def _ingest(keys: list[str], records: int, *, tag: str, rng) -> float:
    """Report `records` events spread over the last DAYS days, oldest batch first."""
    from apikeys.usage.services import UsageEvent, usage_records_ingest

    now = dt.datetime.now(dt.UTC)
    start = now - dt.timedelta(days=DAYS - 1, hours=12)
    span = (now - start).total_seconds()
    batches = max(1, records // BATCH)
    started = time.perf_counter()
    for b in range(batches):
        low = start + dt.timedelta(seconds=span * b / batches)
        high = start + dt.timedelta(seconds=span * (b + 1) / batches)
        width = (high - low).total_seconds()
        events = []
        for i in range(BATCH):
            events.append(
                UsageEvent(
                    request_id=f"{tag}-{b}-{i}",
                    key_id=rng.choice(keys),
                    occurred_at=low + dt.timedelta(seconds=rng.random() * width),
                    model=rng.choice(MODELS),
                    input_tokens=rng.randint(1, 8000),
                    output_tokens=rng.randint(1, 2000),
                    status=200 if rng.random() > 0.02 else 429,
                    latency_ms=rng.randint(40, 9000),
                    moderation="none" if rng.random() > 0.01 else "flagged",
                )
            )
        result = usage_records_ingest(events=events, received_at=high)
        assert result.accepted == BATCH, result
    return time.perf_counter() - started


def _audit_fill(workspace, owner, count: int) -> None:
    """Add audit events to the workspace up to `count`, copies of one stored event.

    Copies are written with one INSERT ... SELECT; their hashes are unique but not a
    valid chain, which no page reads.
    """
    from django.db import connection

    from accounts.models import AuditEvent

    have = AuditEvent.objects.filter(workspace_id=workspace.pk).count()
    missing = count - have
    if missing <= 0:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO accounts_auditevent (occurred_at, action, actor_id, workspace_id,
                subject_user_id, target_type, target_id, metadata, prev_hash, entry_hash,
                chain_key_id, actor_email, ip_address, user_agent)
            SELECT e.occurred_at - g * interval '1 second', e.action, e.actor_id,
                e.workspace_id, e.subject_user_id, e.target_type, e.target_id, e.metadata,
                e.prev_hash, md5(e.entry_hash || g), e.chain_key_id, e.actor_email,
                e.ip_address, e.user_agent
            FROM (SELECT * FROM accounts_auditevent WHERE workspace_id = %s
                  ORDER BY id LIMIT 1) e, generate_series(1, %s) g
            """,
            [workspace.pk, missing],
        )


def _load(owner, name: str, *, keys: int, records: int, audit: int, rng) -> object:
    from accounts.services import workspace_create
    from apikeys.keys.services import api_key_create
    from apikeys.keys.tokens import Environment

    started = time.perf_counter()
    workspace = workspace_create(user=owner, name=name)
    public_ids = []
    for index in range(keys):
        api_key, _ = api_key_create(
            workspace=workspace,
            actor=owner,
            name=f"{name} key {index:05d}",
            environment=Environment.DEVELOPMENT,
            scopes=["inference"],
        )
        public_ids.append(api_key.public_id)
    key_seconds = time.perf_counter() - started
    ingest_seconds = _ingest(public_ids, records, tag=name, rng=rng)
    _audit_fill(workspace, owner, audit)
    print(
        f"loaded {name}: {keys} keys ({key_seconds:.1f} s), {records} usage records "
        f"({ingest_seconds:.1f} s, {records / ingest_seconds:,.0f}/s), audit events up to "
        f"{audit}",
        flush=True,
    )
    return workspace


def _rollups() -> float:
    from apikeys.usage.services import usage_rollup_days

    today = dt.datetime.now(dt.UTC).date()
    started = time.perf_counter()
    usage_rollup_days(days=[today - dt.timedelta(days=d) for d in range(DAYS + 1)])
    return time.perf_counter() - started


def _signed_in_client(user):
    from django.test import Client

    client = Client()
    client.force_login(user)
    session = client.session
    now = time.time()
    session["account_authentication_methods"] = [
        {"method": "password", "at": now - 60, "email": user.email}
    ]
    session["account_authentication_methods_user"] = str(user.pk)
    session.save()
    return client


def _pages(workspace) -> list[tuple[str, str]]:
    from django.urls import reverse

    from apikeys.keys.models import ApiKey

    ws = {"workspace_id": workspace.pk}
    key = ApiKey.objects.filter(workspace=workspace).order_by("pk").first()
    api_usage = reverse("api_workspace_usage", kwargs=ws)
    return [
        ("keys list", reverse("apikey_list", kwargs=ws)),
        ("usage page", reverse("usage_dashboard", kwargs=ws)),
        ("audit log", reverse("workspace_audit", kwargs=ws)),
        ("usage API by day", api_usage),
        ("usage API by key", api_usage + "?group_by=key"),
        ("usage API by model", api_usage + "?group_by=model"),
        ("key detail", reverse("apikey_detail", kwargs={**ws, "key_id": key.public_id})),
        ("workspace", reverse("workspace_detail", kwargs=ws)),
        ("workspace settings", reverse("workspace_settings", kwargs=ws)),
        ("members", reverse("workspace_members", kwargs=ws)),
        ("workspace privacy", reverse("workspace_privacy_settings", kwargs=ws)),
        ("keys API", reverse("api-key-list", kwargs=ws)),
        ("audit API", reverse("api-audit-event-list", kwargs=ws)),
        ("members API", reverse("api-member-list", kwargs=ws)),
        ("invitations API", reverse("api-invitation-list", kwargs=ws)),
    ]


def _account_pages() -> list[tuple[str, str]]:
    from django.urls import reverse

    names = [
        ("dashboard", "dashboard"),
        ("workspaces", "workspace_list"),
        ("profile", "profile"),
        ("preferences", "preferences"),
        ("security", "security"),
        ("account activity", "account_activity"),
        ("privacy center", "privacy_center"),
        ("privacy requests", "privacy_request_list"),
        ("privacy settings", "privacy_settings"),
        ("cookie settings", "cookie_settings"),
        ("consent history", "consent_history"),
        ("workspaces API", "api-workspace-list"),
        ("privacy requests API", "api-privacy-requests"),
    ]
    return [(label, reverse(name)) for label, name in names]


def _measure(client, url: str, runs: int) -> dict:
    from django.db import connection

    client.get(url)  # warm-up
    queries: list[float] = []

    def timed_query(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            queries.append(time.perf_counter() - started)

    with connection.execute_wrapper(timed_query):
        response = client.get(url)
    query_count, sql_ms = len(queries), sum(queries) * 1000
    samples, server = [], []
    for _ in range(runs):
        del queries[:]
        started, cpu = time.perf_counter(), time.process_time()
        with connection.execute_wrapper(timed_query):
            client.get(url)
        samples.append((time.perf_counter() - started) * 1000)
        server.append((time.process_time() - cpu + sum(queries)) * 1000)
    samples.sort()
    return {
        "status": response.status_code,
        "median": statistics.median(samples),
        "p95": samples[min(len(samples) - 1, round(len(samples) * 0.95) - 1)],
        "server": statistics.median(server),
        "queries": query_count,
        "sql_ms": sql_ms,
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wrk(url: str, cookie: str, seconds: int) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_LUA % cookie)
    try:
        out = subprocess.run(
            ["wrk", "-t2", "-c8", f"-d{seconds}s", "--timeout", "10s", "-s", script.name, url],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        os.unlink(script.name)
    match = re.search(r"RESULT (\d+) ([\d.]+) ([\d.]+) (\d+)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50": float(match.group(2)) / 1000,
        "p99": float(match.group(3)) / 1000,
        "non_2xx": int(match.group(4)),
    }


def _warm(url: str, cookie: str) -> None:
    """Send a few requests from two threads and wait for all of them, so that both
    workers have served the page (a worker's first request is slow) and no request is
    still queued when wrk starts."""
    import urllib.request
    from concurrent.futures import ThreadPoolExecutor

    def get(_):
        request = urllib.request.Request(url, headers={"Cookie": cookie})  # noqa: S310
        with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310
            response.read()

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(get, range(6)))


def _http(bench_url: str, targets: list[tuple[str, str]], cookie: str, seconds: int) -> dict:
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": bench_url,
        "DJANGO_SETTINGS_MODULE": "bench.pages_settings",
    }
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
    results = {}
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        for label, path in targets:
            _warm(base + path, cookie)
            results[label] = _wrk(base + path, cookie, seconds)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keys", type=int, default=50)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--audit", type=int, default=10)
    parser.add_argument("--large-keys", type=int, default=5_000)
    parser.add_argument("--large-records", type=int, default=1_000_000)
    parser.add_argument("--large-audit", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--seconds", type=int, default=6)
    parser.add_argument("--no-http", action="store_true")
    parser.add_argument("--reuse", action="store_true", help="keep the data of the last run")
    args = parser.parse_args()

    maintenance_url, bench_url = database_urls(BENCH_DB)
    fresh = True
    if args.reuse:
        import psycopg

        try:
            psycopg.connect(bench_url).close()
            fresh = False
        except psycopg.OperationalError:
            fresh = True
    if fresh:
        recreate_database(maintenance_url, BENCH_DB)
    _setup_django(bench_url, fresh=fresh)

    from django.conf import settings

    from accounts.models import User, Workspace

    rng = random.Random(12)
    if fresh:
        owner = User.objects.create_user(email="bench-pages@example.com", password=None)
        small = _load(
            owner, "Small", keys=args.keys, records=args.records, audit=args.audit, rng=rng
        )
        large = _load(
            owner,
            "Large",
            keys=args.large_keys,
            records=args.large_records,
            audit=args.large_audit,
            rng=rng,
        )
        print(f"rollups of {DAYS + 1} days: {_rollups():.1f} s", flush=True)
        from django.db import connection

        with connection.cursor() as cursor:
            # Statistics as autovacuum would leave them, so plans match a live database.
            cursor.execute("ANALYZE")
    else:
        owner = User.objects.get(email="bench-pages@example.com")
        small = Workspace.objects.get(name="Small")
        large = Workspace.objects.get(name="Large")

    from accounts.models import AuditEvent
    from apikeys.keys.models import ApiKey
    from apikeys.usage.models import UsageDailyRollup, UsageRecord

    client = _signed_in_client(owner)
    sizes = {}
    for label, workspace in (("small", small), ("large", large)):
        sizes[label] = (
            ApiKey.objects.filter(workspace=workspace).count(),
            UsageRecord.objects.filter(workspace=workspace).count(),
            UsageDailyRollup.objects.filter(workspace=workspace).count(),
            AuditEvent.objects.filter(workspace_id=workspace.pk).count(),
        )
    failures = []
    rows = []
    account = [(label, url, None) for label, url in _account_pages()]
    for label, url in _pages(small):
        rows.append((label, url, _pages(large)[[p[0] for p in _pages(small)].index(label)][1]))
    print()
    print(
        f"in process, full middleware stack, {args.runs} requests per page; target "
        f"{TARGET_MS:.0f} ms, aim {AIM_MS:.0f} ms of server time (median of this process's "
        f"CPU time plus the time spent waiting for SQL); wall median and p95 for reference; "
        f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs"
    )
    for label, (keys, records, rollups, audits) in sizes.items():
        print(
            f"  {label}: {keys} keys, {records:,} usage records, {rollups:,} rollup rows, "
            f"{audits:,} audit events"
        )
    column = f"{'server':>7} {'wall':>7} {'p95':>7} {'queries':>7} {'SQL ms':>7}"
    print(f"{'':<22} {'small':^39}   {'large':^39}")
    print(f"{'page':<22} {column}   {column}")
    for label, small_url, large_url in rows + account:
        figures = [_measure(client, small_url, args.runs)]
        if large_url is not None:
            figures.append(_measure(client, large_url, args.runs))
        cells = []
        for fig in figures:
            cells.append(
                f"{fig['server']:7.1f} {fig['median']:7.1f} {fig['p95']:7.1f} "
                f"{fig['queries']:7d} {fig['sql_ms']:7.1f}"
            )
            if fig["status"] != 200:
                failures.append(f"{label}: status {fig['status']}")
            elif fig["server"] > TARGET_MS:
                failures.append(f"{label}: {fig['server']:.1f} ms > {TARGET_MS:.0f} ms")
        print(f"{label:<22} {'   '.join(cells)}", flush=True)

    if not args.no_http:
        if not shutil.which("wrk"):
            print("wrk is required for the HTTP figures: apt-get install -y wrk")
            return 1
        cookie = (
            f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
        )
        targets = []
        for label, small_url, large_url in rows[:4]:
            targets.append((f"{label} (small)", small_url))
            targets.append((f"{label} (large)", large_url))
        print()
        print(f"HTTP: gunicorn 2 sync workers, wrk -t2 -c8 -d{args.seconds}s, session cookie")
        for label, row in _http(bench_url, targets, cookie, args.seconds).items():
            print(
                f"{label:<26} {row['rps']:8.1f} req/s  p50 {row['p50']:7.1f} ms  "
                f"p99 {row['p99']:7.1f} ms  non-2xx {row['non_2xx']}"
            )
            if row["non_2xx"]:
                failures.append(f"{label} over HTTP: {row['non_2xx']} non-2xx answers")

    print()
    if failures:
        print("FAILED:")
        for failure in failures:
            print(f"  {failure}")
        return 1
    print(f"ok: every page at or under {TARGET_MS:.0f} ms at both sizes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
