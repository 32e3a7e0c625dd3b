"""``python -m bench.compare A B``: one NightPOS checkout against another, their loads interleaved.

    git worktree add /tmp/before <commit> && make -C /tmp/before .venv/bin/.installed-bench
    python -m bench.compare /tmp/before . --cases uc2,uc1 --rounds 12 --duration 4

Each checkout (a folder with its own ``.venv``) prepares an instance with its own code (its
migrations, its demo data, the specification's rules) and serves it with its own gunicorn,
both at once; the load generator then alternates between them in short slices, A first in
even rounds and B first in odd ones. Whatever else the machine does meanwhile falls on both
alike, so B's throughput over A's per round is a fair reading on a shared machine where two
separate ``make bench`` runs are not. Prints, per case, both sides' req/s per round, B/A per
round, its median and the ratio of the sums. ``BENCH_DATABASE_URL`` runs both on PostgreSQL
(a database each).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
from pathlib import Path

from bench.common import (
    USE_CASE_1_PAYLOAD,
    USE_CASE_2_PAYLOAD,
    Instance,
    Server,
    load,
    start_gunicorn,
)

PAYLOADS = {"uc1": USE_CASE_1_PAYLOAD, "uc1_log": USE_CASE_1_PAYLOAD, "uc2": USE_CASE_2_PAYLOAD}

#: Run by each checkout's own Python in its own folder: an instance and the rules' URL paths.
_PREPARE = """
import json, sys
from pathlib import Path
sys.path.insert(0, ".")
from bench.common import Context, app_context, prepare_instance, use_case_rules
tmp, url, name = Path(sys.argv[1]), sys.argv[2] or None, sys.argv[3]
ctx = Context(quick=False, rounds=1, duration=1.0, tmp=tmp, database_url=url, log=print)
instance = prepare_instance(ctx, name)
with app_context(instance):
    rules = use_case_rules()
print(json.dumps({"directory": str(instance.directory), "url": instance.url,
                  "paths": {key: rule["path"] for key, rule in rules.items()}}))
"""


def _serve(side: str, tree: Path, tmp: Path) -> tuple[Server, dict[str, str]]:
    database_url = os.environ.get("BENCH_DATABASE_URL", "")
    prepared = subprocess.run(
        [str(tree / ".venv" / "bin" / "python"), "-c", _PREPARE, str(tmp), database_url, side],
        cwd=tree,
        capture_output=True,
        text=True,
        check=True,
    )
    info = json.loads(prepared.stdout.strip().splitlines()[-1])
    instance = Instance(Path(info["directory"]), info["url"])
    server = start_gunicorn(
        side, "nightpos_app:create_app()", instance, root=tree, bin_dir=tree / ".venv" / "bin"
    )
    return server, info["paths"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a", type=Path, help="the checkout to compare with (before)")
    parser.add_argument("b", type=Path, help="the checkout to measure (after)")
    parser.add_argument("--cases", default="uc1,uc1_log,uc2", help=f"of {', '.join(PAYLOADS)}")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--duration", type=float, default=4.0, help="seconds per slice")
    args = parser.parse_args(argv)
    cases = [case.strip() for case in args.cases.split(",") if case.strip()]
    unknown = sorted(set(cases) - set(PAYLOADS))
    if unknown:
        parser.error(f"unknown case(s): {', '.join(unknown)}")
    tmp = Path(tempfile.mkdtemp(prefix="nightpos-compare-"))
    servers: dict[str, Server] = {}
    paths: dict[str, dict[str, str]] = {}
    try:
        for side, tree in (("a", args.a.resolve()), ("b", args.b.resolve())):
            servers[side], paths[side] = _serve(side, tree, tmp)
        for case in cases:
            rps: dict[str, list[float]] = {"a": [], "b": []}
            for side in rps:  # warm both up: caches, runners, the database's pages
                load(servers[side], paths[side][case], PAYLOADS[case], duration=1.5)
            for round_ in range(args.rounds):
                for side in ("a", "b") if round_ % 2 == 0 else ("b", "a"):
                    result = load(
                        servers[side], paths[side][case], PAYLOADS[case], duration=args.duration
                    )
                    rps[side].append(result["rps"])
            ratios = [b / a for a, b in zip(rps["a"], rps["b"], strict=True)]
            print(
                f"{case}: A req/s {[round(x) for x in rps['a']]}\n"
                f"{' ' * len(case)}  B req/s {[round(x) for x in rps['b']]}\n"
                f"{' ' * len(case)}  B/A per round {[round(x, 2) for x in ratios]}: "
                f"median {statistics.median(ratios):.2f}, "
                f"sums {sum(rps['b']) / sum(rps['a']):.2f}",
                flush=True,
            )
    finally:
        for server in servers.values():
            server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
