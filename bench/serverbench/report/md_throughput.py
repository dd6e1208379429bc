"""server.md, "Throughput": N clients and the sustained run (with its decline
and retention checks), then the CPU time each process spends per cycle."""

# ruff: noqa: RUF001

from __future__ import annotations

from typing import TYPE_CHECKING

from serverbench.report.numbers import PEER, fmt_cores, fnum, ms, ratio_more
from serverbench.report.soak import retention, retention_mark, soak_flatness
from serverbench.scenarios import Outcome

if TYPE_CHECKING:
    from serverbench.results import Results, TargetResult


def throughput(results: Results) -> list[str]:
    cfg = results.config
    T = results.targets
    peer = T.get(PEER)
    L: list[str] = []
    add = L.append
    add(f"## Throughput ({cfg.concurrency} concurrent SDK clients)")
    add("")
    add(
        f"Each client runs interrupt cycles back to back, {cfg.tp_duration:.0f} s measured after "
        f"{cfg.tp_warmup:.0f} s of warm-up; the sustained run lasts {cfg.soak_duration:.0f} s."
    )
    add("")
    add(
        "Cores busy: CPU seconds per second of the target's processes and the benchmark client, "
        "+ those of everything else on the machine (other work sharing it)."
    )
    add("")
    add("| scenario | target | cycles/s | errors | p50 | p90 | p99 | cores busy | vs official |")
    add("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for sid in ("interrupt-load", "soak"):
        for t in T.values():
            o = t.outcomes.get(sid)
            if not o:
                continue
            p = peer.outcomes.get(sid) if peer else None
            vs = ratio_more(o.throughput, p.throughput) if p and t.key != PEER else ""
            label = f"interrupt cycle, {o.concurrency} clients, {o.duration:.0f} s"
            add(
                f"| {label} | {t.name} | {fnum(o.throughput)} | {o.errors} | {fnum(ms(o.latencies, 50))} | "
                f"{fnum(ms(o.latencies, 90))} | {fnum(ms(o.latencies, 99))} | {fmt_cores(o)} | {vs} |"
            )
    soaks = [(t, t.outcomes["soak"]) for t in T.values() if "soak" in t.outcomes]
    if soaks:
        L += _sustained(soaks)
        L += _retention(soaks)
    add("")
    return L


def _sustained(soaks: list[tuple[TargetResult, Outcome]]) -> list[str]:
    L: list[str] = []
    add = L.append
    add("")
    add("Sustained run, throughput over time (first fifth → last fifth of the run):")
    add("")
    add("| target | first | last | last / first | RSS at start → end of the run (MiB) |")
    add("|---|---:|---:|---:|---|")
    for t, o in soaks:
        first, last, r = soak_flatness(o)
        rss = ""
        if len(o.rss_timeline) >= 2:
            a, b = o.rss_timeline[0][1], o.rss_timeline[-1][1]
            rss = ", ".join(f"{k} {a[k]:.0f} → {b[k]:.0f}" for k in b if k in a)
        add(f"| {t.name} | {fnum(first)} | {fnum(last)} | {fnum(r, 2)} | {rss} |")
    add("")
    return L


def _retention(soaks: list[tuple[TargetResult, Outcome]]) -> list[str]:
    L: list[str] = []
    add = L.append
    add(
        f"Retention: threads expire {retention_mark():.0f} s into the run at the latest "
        "(bench/graphs/langgraph.json: a 2-minute thread TTL swept every minute, run events "
        "kept 120 s); from then on what is stored should stay flat (within 20 %):"
    )
    add("")
    for t, o in soaks:
        kept = retention(o)
        if kept is None:
            add(f"- {t.name}: the run was shorter than that; not measured")
            continue
        for name, (a, b) in kept.items():
            verdict = "flat" if b <= 1.2 * a else "GROWS"
            add(f"- {t.name}, {name}: {a:.0f} → {b:.0f} MiB ({b / a:.2f}×, {verdict})")
    return L


def cpu(results: Results) -> list[str]:
    L: list[str] = []
    add = L.append
    add("## CPU time per interrupt cycle (ms, at N clients)")
    add("")
    add(
        "CPU seconds each process used during the measured window divided by the cycles "
        "completed (from /proc). With 2 cores, the sum bounds the throughput: "
        "2000 ms/s ÷ (sum) ≈ the most cycles/s this machine can do."
    )
    add("")
    add("| target | process | CPU ms / cycle |")
    add("|---|---|---:|")
    for t in results.targets.values():
        o = t.outcomes.get("interrupt-load")
        if not o or not o.cpu_ms_per_op:
            continue
        total = 0.0
        for k, v in sorted(o.cpu_ms_per_op.items(), key=lambda kv: -kv[1]):
            total += v if k != "bench client" else 0
            add(f"| {t.name} | {k} | {v:.2f} |")
        add(f"| {t.name} | **all server processes** | **{total:.2f}** |")
    add("")
    return L
