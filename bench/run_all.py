"""Run every benchmark in this folder (`bench/bench_*.py`), one after the other.

Each benchmark is a script that prints its own figures and exits non-zero when it
fails. This runner streams their output, prints a summary, and exits non-zero if any
benchmark failed (or if there is none to run).

    python bench/run_all.py                 # all of them
    python bench/run_all.py keys usage      # only those whose name contains a word
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def discover(words: list[str]) -> list[Path]:
    """Return the benchmark scripts, sorted, filtered by any of `words`."""
    scripts = sorted(HERE.glob("bench_*.py"))
    if words:
        scripts = [path for path in scripts if any(word in path.stem for word in words)]
    return scripts


def main(argv: list[str]) -> int:
    scripts = discover(argv)
    if not scripts:
        print("No benchmarks found (bench/bench_*.py).", file=sys.stderr)
        return 1
    results: list[tuple[str, int, float]] = []
    for script in scripts:
        print(f"=== {script.name}", flush=True)
        started = time.perf_counter()
        code = subprocess.call([sys.executable, str(script)], cwd=ROOT)
        results.append((script.name, code, time.perf_counter() - started))
    print("=== summary")
    for name, code, seconds in results:
        print(f"{'ok    ' if code == 0 else 'FAILED'} {name} ({seconds:.1f} s)")
    return 0 if all(code == 0 for _, code, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
