"""Personal data export of an account with 1,000,000 usage records, on PostgreSQL.

Runs in a database of its own (`console_bench_export`, created and dropped here) and a
Redis database of its own. Loads one account whose API keys made 1,000,000 requests
(plus 100,000 requests of another account, which must stay out of the export) with
`INSERT ... SELECT generate_series`, then builds the export in two ways, each in a
child process of its own so that its peak memory is its own and the data loading does
not count:

1. the real job, `privacy.exports.services.export_run` (claim, row count, streamed ZIP, digest,
   completion);
2. for scale, a naive build: every dataset loaded into a list through the ORM first,
   then written as JSON and CSV into the same kind of ZIP.

The client IP of nine records in ten holds an AES-256-GCM token of the model field (a
few hundred distinct tokens, cycled; each row is still decrypted on its own); one in
ten is NULL, as under zero data retention. Exits non-zero when the real export takes
10 s or more or peaks at 150 MB or more.

    .venv/bin/python bench/bench_export.py                 # 1,000,000 records
    .venv/bin/python bench/bench_export.py --rows 100000   # a quick look
    .venv/bin/python bench/bench_export.py --profile       # cProfile of the real job
    .venv/bin/python bench/bench_export.py --keep          # then --reuse: skip loading
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.databases import database_urls, recreate_database  # noqa: E402

BENCH_DB = "console_bench_export"
BENCH_EMAIL = "export-bench@example.com"
WARMUP_EMAIL = "warm-up@example.com"
TARGET_SECONDS = 10.0
TARGET_PEAK_MB = 150.0
DISTINCT_IP_TOKENS = 500
OTHER_ACCOUNT_ROWS = 100_000


def _bench_environment(bench_url: str, media_root: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=bench_url,
        DJANGO_SETTINGS_MODULE="console.settings.test",
        REDIS_URL=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12"),
        CACHE_KEY_PREFIX="bench-export",
        MEDIA_ROOT=str(media_root),
    )
    return env


def _setup_django() -> None:
    import django

    django.setup()


def _rss_mb() -> float:
    """Current resident set size of this process, in MB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---------------------------------------------------------------------------- loading


def _make_account(email: str, *, keys: int):
    from accounts.models import User
    from accounts.services import workspace_create
    from apikeys.keys.services import api_key_create
    from apikeys.keys.tokens import Environment

    user = User.objects.create_user(email=email, password=None)
    workspace = workspace_create(user=user, name=f"Workspace of {email}")
    key_ids = []
    for index in range(keys):
        api_key, _ = api_key_create(
            workspace=workspace,
            actor=user,
            name=f"key {index}",
            environment=Environment.DEVELOPMENT,
            scopes=["inference"],
        )
        key_ids.append(api_key.pk)
    return user, workspace, key_ids


def _insert_usage(*, workspace, key_ids: list[int], rows: int, tag: str, tokens: list[str]):
    from django.db import connection

    from apikeys.usage.models import UsageRecord

    table = UsageRecord._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {table} (workspace_id, api_key_id, request_id, occurred_at, model,
                input_tokens, output_tokens, status, latency_ms, moderation, client_ip,
                received_at)
            SELECT %(workspace)s,
                   (%(keys)s::bigint[])[1 + g %% %(n_keys)s],
                   %(tag)s || '-' || lpad(to_hex(g), 8, '0'),
                   now() - make_interval(secs => g * 2.5),
                   (ARRAY['large-1', 'large-1', 'medium-2', 'small-1', 'embed-1'])[1 + g %% 5],
                   1 + (g * 7919) %% 8000,
                   1 + (g * 104729) %% 2000,
                   CASE WHEN g %% 50 = 0 THEN 429 ELSE 200 END,
                   40 + (g * 31) %% 9000,
                   CASE WHEN g %% 100 = 0 THEN 'flagged' ELSE 'none' END,
                   CASE WHEN g %% 10 = 0 THEN NULL
                        ELSE (%(tokens)s::text[])[1 + g %% %(n_tokens)s] END,
                   now()
            FROM generate_series(1::bigint, %(rows)s) AS g
            """,
            {
                "workspace": workspace.pk,
                "keys": key_ids,
                "n_keys": len(key_ids),
                "tag": tag,
                "tokens": tokens,
                "n_tokens": len(tokens),
                "rows": rows,
            },
        )


def load(rows: int) -> None:
    """Create the account and its usage records in the benchmark database."""
    from django.core.management import call_command
    from django.db import connection

    from apikeys.usage.models import UsageRecord

    call_command("migrate", verbosity=0)
    field = UsageRecord._meta.get_field("client_ip")
    tokens = [
        field.encrypt_value(f"198.51.{i // 250}.{i % 250 + 1}") for i in range(DISTINCT_IP_TOKENS)
    ]
    started = time.perf_counter()
    _user, workspace, key_ids = _make_account(BENCH_EMAIL, keys=5)
    _insert_usage(workspace=workspace, key_ids=key_ids, rows=rows, tag="me", tokens=tokens)
    _make_account(WARMUP_EMAIL, keys=1)
    _other, other_workspace, other_keys = _make_account("other@example.com", keys=2)
    _insert_usage(
        workspace=other_workspace,
        key_ids=other_keys,
        rows=OTHER_ACCOUNT_ROWS,
        tag="other",
        tokens=tokens,
    )
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM ANALYZE {UsageRecord._meta.db_table}")
    print(
        f"loaded {rows:,} usage records of the account (+{OTHER_ACCOUNT_ROWS:,} of another) "
        f"in {time.perf_counter() - started:.1f} s",
        flush=True,
    )


# ---------------------------------------------------------------------------- variants


def _naive_build(export) -> Path:
    """Load each dataset whole through the ORM, then write it: memory grows with rows."""
    import csv
    import io
    import zipfile

    from django.conf import settings

    from privacy.exports.services import DATASETS, _csv_cell, _plain, _readme

    path = Path(settings.MEDIA_ROOT) / "exports" / f"naive-{export.pk}.zip"
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.writestr("README.txt", _readme())
        for dataset in DATASETS:
            rows = list(dataset.rows(export.user).order_by().values_list(*dataset.fields))
            objects = [dict(zip(dataset.fields, map(_plain, row), strict=True)) for row in rows]
            zf.writestr(f"{dataset.name}.json", json.dumps(objects, ensure_ascii=False))
            if dataset.table:
                text = io.StringIO()
                writer = csv.writer(text)
                writer.writerow(dataset.fields)
                writer.writerows([[_csv_cell(v) for v in row] for row in rows])
                zf.writestr(f"{dataset.name}.csv", text.getvalue())
    return path


def _build(variant: str, user, settings) -> tuple[Path, int | None]:
    """Build one export of `user` the `variant` way; return its file and row count."""
    from privacy.exports.models import DataExport
    from privacy.exports.services import export_run

    export = DataExport.objects.create(user=user)
    if variant == "real":
        export = export_run(export_id=export.pk)
        return Path(settings.MEDIA_ROOT) / "exports" / export.file_name, export.rows_total
    export = DataExport.objects.select_related("user").get(pk=export.pk)
    return _naive_build(export), None


def run_variant(variant: str, *, profile: bool) -> dict:
    """Build one export in this process and return its figures."""
    _setup_django()
    from django.conf import settings

    from accounts.models import User

    # A running worker has done an export before: modules imported, templates and URLs
    # loaded. One export of an account with no usage makes this process such a worker.
    _build(variant, User.objects.get(email=WARMUP_EMAIL), settings)
    user = User.objects.get(email=BENCH_EMAIL)
    baseline = _rss_mb()
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    cpu_started = _cpu_seconds()
    started = time.perf_counter()
    path, rows = _build(variant, user, settings)
    seconds = time.perf_counter() - started
    cpu = _cpu_seconds() - cpu_started
    if profiler is not None:
        import pstats

        profiler.disable()
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(30)
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(25)
    figures = {
        "variant": variant,
        "seconds": seconds,
        "cpu_seconds": cpu,
        "rows": rows,
        "baseline_mb": baseline,
        "peak_mb": _peak_mb(),
        "zip_bytes": path.stat().st_size,
    }
    _check_archive(path, figures)
    path.unlink()
    return figures


def _check_archive(path: Path, figures: dict) -> None:
    """Count the usage records in the archive, so a variant cannot skip work."""
    import zipfile

    with zipfile.ZipFile(path) as archive:
        with archive.open("usage_records.csv") as handle:
            figures["usage_csv_rows"] = sum(1 for _ in handle) - 1
        figures["uncompressed_bytes"] = sum(info.file_size for info in archive.infolist())


def _spawn(variant: str, env: dict[str, str], *, profile: bool) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), "--variant", variant]
    if profile:
        command.append("--profile")
    done = subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------- main


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )


def _print(figures: dict, rows: int) -> None:
    seconds = figures["seconds"]
    print(
        f"{figures['variant']:<6} {seconds:7.2f} s (CPU {figures['cpu_seconds']:6.2f} s)  "
        f"{rows / seconds:>9,.0f} rows/s  "
        f"peak RSS {figures['peak_mb']:6.1f} MB (at start {figures['baseline_mb']:5.1f} MB)  "
        f"ZIP {figures['zip_bytes'] / 1e6:6.1f} MB "
        f"(uncompressed {figures['uncompressed_bytes'] / 1e6:6.1f} MB)",
        flush=True,
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--profile", action="store_true", help="cProfile the real job")
    parser.add_argument("--skip-naive", action="store_true", help="only the real export")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--reuse", action="store_true", help="use the kept database as is")
    parser.add_argument("--variant", choices=("real", "naive"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.variant:  # a child process: build one export, print its figures as JSON
        print(json.dumps(run_variant(args.variant, profile=args.profile)), flush=True)
        return 0

    import tempfile

    maintenance_url, bench_url = database_urls(BENCH_DB)
    print(f"machine: {_machine()}", flush=True)
    if not args.reuse:
        recreate_database(maintenance_url, BENCH_DB)
    real = naive = None
    try:
        with tempfile.TemporaryDirectory(prefix="bench-export-") as media:
            env = _bench_environment(bench_url, Path(media))
            if not args.reuse:
                subprocess.run(
                    [
                        sys.executable,
                        "-c",
                        "import sys; sys.path.insert(0, '.'); import django; django.setup(); "
                        f"from bench.bench_export import load; load({args.rows})",
                    ],
                    cwd=ROOT,
                    env=env,
                    check=True,
                )
            real = _spawn("real", env, profile=args.profile)
            _print(real, args.rows)
            if not args.skip_naive:
                naive = _spawn("naive", env, profile=False)
                _print(naive, args.rows)
    finally:
        if not args.keep:
            recreate_database(maintenance_url, BENCH_DB, drop_only=True)

    failures = []
    for figures in filter(None, (real, naive)):
        if figures["usage_csv_rows"] != args.rows:
            failures.append(
                f"{figures['variant']}: {figures['usage_csv_rows']} usage rows, not {args.rows}"
            )
    if naive:
        print(
            f"real vs naive: {naive['seconds'] / real['seconds']:.2f}x the speed, "
            f"{naive['peak_mb'] / real['peak_mb']:.1f}x less peak memory"
        )
    if real["seconds"] >= TARGET_SECONDS:
        failures.append(f"real export took {real['seconds']:.2f} s (target < {TARGET_SECONDS} s)")
    if real["peak_mb"] >= TARGET_PEAK_MB:
        failures.append(f"real export peaked at {real['peak_mb']:.1f} MB (< {TARGET_PEAK_MB})")
    for failure in failures:
        print(f"FAIL {failure}")
    print("ok" if not failures else "FAILED")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
