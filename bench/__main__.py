"""``python -m bench``: run the benchmarks, print their tables and the targets, write JSON.

    python -m bench                  # full size (make bench)
    python -m bench --quick          # the CI smoke run: tiny sizes, every benchmark and table
    python -m bench --only sandbox,webhook

SQLite files in a temporary folder by default; ``BENCH_DATABASE_URL`` (PostgreSQL) makes each
benchmark create a database of its own named after it (``<name>_webhook``...), dropped after.
The exit code is 0 whether targets are met or not (this is a report); 1 only if a benchmark
crashed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import platform
import shutil
import sys
import tempfile
import time
import traceback
from dataclasses import asdict
from pathlib import Path

from bench.common import ROOT, Context, Report, Table, database_label, drop_databases, render

BENCHMARKS = ["webhook", "statements", "sandbox", "growth", "outgoing", "inbox", "memory"]
RESULTS = ROOT / "bench" / "results" / "latest.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the CI smoke run: tiny sizes")
    parser.add_argument(
        "--only", help=f"comma-separated benchmarks to run (of {', '.join(BENCHMARKS)})"
    )
    parser.add_argument("--rounds", type=int, help="rounds per comparison (default 3; quick 2)")
    parser.add_argument("--duration", type=float, help="seconds per load run (default 10; quick 1)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--output", type=Path, default=RESULTS, help="the JSON results file")
    args = parser.parse_args(argv)

    names = BENCHMARKS
    if args.only:
        names = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = sorted(set(names) - set(BENCHMARKS))
        if unknown:
            parser.error(f"unknown benchmark(s): {', '.join(unknown)}")

    tmp = Path(tempfile.mkdtemp(prefix="nightpos-bench-"))
    ctx = Context(
        quick=args.quick,
        rounds=args.rounds or (2 if args.quick else 3),
        duration=args.duration or (1.0 if args.quick else 10.0),
        tmp=tmp,
        database_url=os.environ.get("BENCH_DATABASE_URL") or None,
        log=lambda text: print(text, file=sys.stderr, flush=True),
    )
    database = database_label(ctx)
    ctx.log(
        f"bench: {'quick' if ctx.quick else 'full'} run of {', '.join(names)} on {database}"
        f" in {tmp}"
    )
    reports: list[Report] = []
    crashed: list[str] = []
    started = time.perf_counter()
    try:
        for name in names:
            ctx.log(f"bench: {name}...")
            began = time.perf_counter()
            try:
                module = importlib.import_module(f"bench.{name}")
                report = module.run(ctx)
            except Exception:
                crashed.append(name)
                ctx.log(f"bench: {name} CRASHED\n{traceback.format_exc()}")
                report = Report(name, data={"crashed": traceback.format_exc()})
            report.data["seconds"] = round(time.perf_counter() - began, 1)
            reports.append(report)
            for table in report.tables:
                print(render(table) + "\n", flush=True)
    finally:
        if not args.keep:
            drop_databases(ctx)
        if args.keep:
            ctx.log(f"bench: kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    targets = [target for report in reports for target in report.targets]
    rows = [[t.name, t.goal, t.measured, "met" if t.met else "NOT MET"] for t in targets]
    rows += [[f"{name}: crashed", "", "", "NOT MEASURED"] for name in crashed]
    print(render(Table("Targets", ["target", "goal", "measured", "result"], rows)))
    met = sum(t.met for t in targets)
    print(
        f"{met} of {len(targets)} targets met"
        + (f"; crashed: {', '.join(crashed)}" if crashed else "")
    )

    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(
        json.dumps(
            {
                "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "mode": "quick" if ctx.quick else "full",
                "rounds": ctx.rounds,
                "duration_s": ctx.duration,
                "database": database,
                "machine": {
                    "python": platform.python_version(),
                    "platform": platform.platform(),
                    "cpus": os.cpu_count(),
                },
                "seconds": round(time.perf_counter() - started, 1),
                "benchmarks": {
                    r.name: {"tables": [asdict(t) for t in r.tables], **r.data} for r in reports
                },
                "targets": [asdict(t) for t in targets],
                "crashed": crashed,
            },
            indent=2,
            default=str,
        )
        + "\n"
    )
    ctx.log(f"bench: results in {args.output}")
    return 1 if crashed else 0


if __name__ == "__main__":
    raise SystemExit(main())
