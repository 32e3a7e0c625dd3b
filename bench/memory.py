"""Memory: the resident set (VmRSS) of each gunicorn worker after 1,000 and after 20,000 calls
of use case 1 (Log Calls off), on a fresh server; growth must stay under 10 %.

The baseline app is measured the same way, for reference (no target).
"""

from __future__ import annotations

from bench.common import (
    USE_CASE_1_PAYLOAD,
    Context,
    Report,
    Server,
    Table,
    Target,
    app_context,
    load,
    prepare_instance,
    rss_kib,
    servers,
    usd_id,
    use_case_rules,
)

GROWTH_TARGET = 0.10


def _measure(server: Server, path: str, first: int, total: int) -> list[tuple[int, int, int]]:
    """(pid, RSS KiB after ``first`` calls, after ``total``) for each worker."""
    result = load(server, path, USE_CASE_1_PAYLOAD, count=first)
    if result["errors"]:
        raise RuntimeError(f"{server.name}: errors during the calls: {result}")
    before = {pid: rss_kib(pid) for pid in server.worker_pids()}
    result = load(server, path, USE_CASE_1_PAYLOAD, count=total - first)
    if result["errors"]:
        raise RuntimeError(f"{server.name}: errors during the calls: {result}")
    return [(pid, kib, rss_kib(pid)) for pid, kib in sorted(before.items())]


def run(ctx: Context) -> Report:
    report = Report("memory")
    first, total = (200, 2_000) if ctx.quick else (1_000, 20_000)
    instance = prepare_instance(ctx, "memory")
    with app_context(instance):
        rules = use_case_rules()
        usd = usd_id()
    import json

    baseline_env = {
        "BENCH_BASELINE_SECRETS": json.dumps({rules["uc1"]["secret"]: "uc1"}),
        "BENCH_BASELINE_USD_ID": str(usd),
    }
    rows = []
    worst = 0.0
    with servers(
        ("nightpos", "nightpos_app:create_app()", instance, None),
        ("baseline", "bench.baseline_app:create_app()", instance, baseline_env),
    ) as (nightpos, baseline):
        for server in (nightpos, baseline):
            ctx.log(f"  memory: {server.name}, {total:,} calls")
            measured = _measure(server, rules["uc1"]["path"], first, total)
            for pid, before, after in measured:
                growth = (after - before) / before
                rows.append(
                    [server.name, str(pid), before / 1024, after / 1024, f"{growth * 100:+.1f} %"]
                )
                if server is nightpos:
                    worst = max(worst, growth)
            report.data[server.name] = [
                {"pid": pid, "rss_kib_first": b, "rss_kib_total": a} for pid, b, a in measured
            ]
    report.targets.append(
        Target(
            "Worker memory growth",
            f"< {GROWTH_TARGET * 100:.0f} %",
            f"{worst * 100:+.1f} % (worst worker)",
            worst < GROWTH_TARGET,
        )
    )
    report.tables.append(
        Table(
            f"Memory: worker RSS after {first:,} and after {total:,} calls of UC1",
            ["server", "worker pid", f"MiB after {first:,}", f"MiB after {total:,}", "growth"],
            rows,
        )
    )
    return report
