"""server.md, "Scale-out" (the I/O-bound graph with more executors) and
"Memory" (every process's RSS at idle and after the load)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from serverbench.report.numbers import PEER, fmt_cores, fnum, ms

if TYPE_CHECKING:
    from serverbench.results import Results, TargetResult


def scaleout(results: Results) -> list[str]:
    cfg = results.config
    T = results.targets
    peer = T.get(PEER)
    ours_scale = [t for t in T.values() if t.scaleout]
    peer_io = peer.outcomes.get("io") if peer else None
    if not (ours_scale or peer_io):
        return []
    L: list[str] = []
    add = L.append
    add(f"## Scale-out (I/O-bound graph, {cfg.scaleout_concurrency} concurrent SDK clients)")
    add("")
    add(
        '`runs.wait(None, "io", ...)` on a graph of two nodes that each `await '
        f"asyncio.sleep(0.05)`, {cfg.scaleout_duration:.0f} s per point. A relaygraph executor "
        "runs at most 16 runs at once (`RELAYGRAPH_MAX_CONCURRENT_RUNS`); the official server "
        "runs at most 10 (`--n-jobs-per-worker 10`)."
    )
    add("")
    add(
        "Cores busy = CPU seconds per second of the target's processes and the benchmark "
        "client, + those of everything else on the machine (other work sharing it); this "
        f"machine has {results.meta.get('nproc')} cores."
    )
    add("")
    add(
        "| target | series | executors | runs/s | per executor | vs linear | cores busy "
        "| errors | p50 | p99 |"
    )
    add("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for t in ours_scale:
        L += _series_rows(t)
    if peer_io:
        add(
            f"| langgraph dev | `--n-jobs-per-worker 10` | (1 process) | {fnum(peer_io.throughput)} "
            f"| | | {fmt_cores(peer_io)} | {peer_io.errors} | "
            f"{fnum(ms(peer_io.latencies, 50))} | {fnum(ms(peer_io.latencies, 99))} |"
        )
    add("")
    return L


def _series_rows(t: TargetResult) -> list[str]:
    rows = []
    for label, series in t.scaleout.items():
        if not series:
            continue
        n1, o1 = series[0]
        base = o1.throughput / n1 if o1.throughput else 0
        for n, o in series:
            lin = o.throughput / (base * n) if base else float("nan")
            rows.append(
                f"| {t.name} | {label} | {n} | {fnum(o.throughput)} | {fnum(o.throughput / n)} "
                f"| {fnum(lin, 2)} | {fmt_cores(o)} | {o.errors} | "
                f"{fnum(ms(o.latencies, 50))} | {fnum(ms(o.latencies, 99))} |"
            )
    return rows


def memory(results: Results) -> list[str]:
    L: list[str] = []
    add = L.append
    add("## Memory (RSS, MiB)")
    add("")
    add("At idle: after start and a few warm-up runs. After: 2 s after the last load.")
    add("")
    add("| target | process | idle | after the load |")
    add("|---|---|---:|---:|")
    for t in results.targets.values():
        names = list(dict.fromkeys([*t.rss_idle, *t.rss_after]))
        for k in names:
            add(
                f"| {t.name} | {k} | {fnum(t.rss_idle.get(k), 0)} | {fnum(t.rss_after.get(k), 0)} |"
            )
        if names:
            add(
                f"| {t.name} | **all** | **{fnum(sum(t.rss_idle.values()), 0)}** | "
                f"**{fnum(sum(t.rss_after.values()), 0)}** |"
            )
    add("")
    return L
