"""Run the benchmarks and print one table: Otvet's figures, the baseline's, the ratio and the target.

    python bench/run.py            # everything, at the sizes of the performance targets (make bench)
    python bench/run.py --quick    # small counts: a smoke run of every benchmark in a few minutes
    python bench/run.py --only graphql --only startup

Each benchmark runs as a subprocess (its own output shown as it goes) with ``--rows FILE``; the table is
built from the rows they append. A benchmark whose script has no ``--rows`` option still runs and shows
its own report, but adds no row. The exit status is non-zero only when a benchmark crashed: a missed
target is a finding, reported in the ``met`` column.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from common import BENCH, ROOT, format_rows, read_rows


@dataclass(frozen=True, slots=True)
class Bench:
    name: str
    script: str
    full: tuple[str, ...]
    quick: tuple[str, ...]


#: In the order they run: the servers first, the in-process index benchmarks after.
BENCHES = (
    Bench("graphql", "bench_graphql.py", (), ("--seconds", "3", "--warmup", "1")),
    Bench(
        "stream",
        "bench_stream.py",
        ("--rounds", "100", "--deltas", "200"),
        ("--rounds", "10", "--deltas", "20"),
    ),
    Bench(
        "telegram",
        "bench_telegram.py",
        ("--chats", "50", "--updates", "500"),
        ("--chats", "10", "--updates", "50"),
    ),
    Bench(
        "telegram-race",
        "bench_telegram_race.py",
        ("--messages", "1000", "--chats", "50"),
        ("--quick",),
    ),
    Bench(
        "widget",
        "bench_widget.py",
        ("--connections", "2000", "--questions", "60"),
        ("--connections", "100", "--questions", "10"),
    ),
    Bench(
        "overview",
        "bench_overview.py",
        ("--messages", "1000000", "--days", "90"),
        ("--messages", "20000", "--days", "30", "--requests", "5"),
    ),
    Bench("startup", "bench_startup.py", ("--runs", "5"), ("--runs", "1")),
    Bench(
        "retrieval",
        "bench_retrieval.py",
        ("--chunks", "100000", "--queries", "500"),
        ("--chunks", "5000", "--queries", "100"),
    ),
    Bench(
        "answers",
        "bench_answers.py",
        ("--chunks", "100000", "--questions", "200"),
        ("--chunks", "2000", "--questions", "20"),
    ),
    Bench(
        "hybrid",
        "bench_hybrid.py",
        ("--chunks", "100000", "--dims", "1536", "--queries", "300"),
        ("--chunks", "2000", "--dims", "64", "--queries", "30"),
    ),
    Bench("training", "bench_training.py", ("--chunks", "100000"), ("--chunks", "2000")),
    Bench("quality", "bench_quality.py", (), ("--quick",)),
)


def _read(path: str, key: str) -> str:
    try:
        with open(path) as file:
            for line in file:
                if line.startswith(key):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def _git(*args: str) -> str:
    result = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
    return result.stdout.strip()


def machine() -> str:
    """The lines heading the table: what the figures were measured on."""
    memory = _read("/proc/meminfo", "MemTotal")
    ram = f"{int(memory.split()[0]) / 2**20:.1f} GiB" if memory[:1].isdigit() else memory
    commit = _git("rev-parse", "--short", "HEAD") or "unknown"
    if _git("status", "--porcelain", "--untracked-files=no"):
        commit += " (with uncommitted changes)"
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return "\n".join(
        [
            f"cores: {os.cpu_count()}   CPU: {_read('/proc/cpuinfo', 'model name')}   RAM: {ram}",
            f"Python {platform.python_version()}   {platform.system()} {platform.release()}",
            f"date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC   commit: {commit}   "
            f"load average at start: {load}",
        ]
    )


def accepts_rows(script: Path) -> bool:
    """Whether the script has the ``--rows`` option (its ``--help`` says so)."""
    result = subprocess.run(
        [sys.executable, str(script), "--help"], capture_output=True, text=True, check=False
    )
    return "--rows" in result.stdout


def run_bench(bench: Bench, quick: bool, rows_path: Path) -> tuple[bool, float]:
    """Run one benchmark; whether it succeeded, and how long it took."""
    script = BENCH / bench.script
    argv = [sys.executable, str(script), *(bench.quick if quick else bench.full)]
    if accepts_rows(script):
        argv += ["--rows", str(rows_path)]
    print(f"\n=== {bench.name}: {' '.join(argv[1:])}", flush=True)
    started = time.perf_counter()
    result = subprocess.run(argv, cwd=ROOT, check=False)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        print(f"=== {bench.name} FAILED with exit status {result.returncode}", flush=True)
    return result.returncode == 0, elapsed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small counts: a smoke run")
    names = [bench.name for bench in BENCHES]
    parser.add_argument("--only", action="append", choices=names, help="run only this benchmark (repeatable)")
    parser.add_argument("--rows", type=Path, default=None, help="keep the collected rows in this file")
    args = parser.parse_args(argv)
    header = machine()
    chosen = [bench for bench in BENCHES if not args.only or bench.name in args.only]
    with tempfile.TemporaryDirectory(prefix="otvet-bench-rows-") as tmp:
        rows_path = args.rows or Path(tmp) / "rows.jsonl"
        if args.rows:
            rows_path.unlink(missing_ok=True)
        outcomes = {bench.name: run_bench(bench, args.quick, rows_path) for bench in chosen}
        rows = read_rows(rows_path)
    print(
        "\n" + header + ("   (--quick: small counts, not comparable with the targets)" if args.quick else "")
    )
    print(format_rows(rows) if rows else "(no rows)")
    summary = ", ".join(
        f"{name} {'ok' if ok else 'FAILED'} {seconds:.0f} s" for name, (ok, seconds) in outcomes.items()
    )
    print(f"\nbenchmarks: {summary}")
    return 0 if all(ok for ok, _ in outcomes.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
