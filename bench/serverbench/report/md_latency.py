"""server.md, "Latency (1 client, sequential)": the latency table, a note on
the official server's queue, and the steps of the interrupt cycle."""

from __future__ import annotations

from typing import TYPE_CHECKING

from serverbench.report.numbers import (
    LABELS,
    PEER,
    fmt_cores,
    fnum,
    ms,
    pct,
    ratio_faster,
    ratio_more,
)
from serverbench.scenarios import Outcome

if TYPE_CHECKING:
    from serverbench.results import Results, TargetResult

SEQUENTIAL = ("interrupt-sdk", "interrupt-raw", "stateless-sdk", "stream-sdk")


def latency(results: Results) -> list[str]:
    cfg = results.config
    L: list[str] = []
    add = L.append
    add("## Latency (1 client, sequential)")
    add("")
    add(
        f"Interrupt cycle = `threads.create` + `runs.wait` to the interrupt + `runs.wait` with "
        f"`Command(resume=...)`; {cfg.seq_cycles} cycles after {cfg.seq_warmup} warm-up ones. "
        f"Stateless = `runs.wait(None, ...)` on a 1-node graph ({cfg.stateless_runs} runs). "
        f'Streaming = `runs.stream(..., stream_mode="custom")` of a graph writing '
        f"{cfg.stream_events} custom events ({cfg.stream_runs} runs): latency = whole stream, "
        "TTFE = time to the first custom event."
    )
    add("")
    add(
        "Cores busy: CPU seconds per second of the target's processes and the benchmark client, "
        "+ those of everything else on the machine during the scenario."
    )
    add("")
    add("| scenario | target | n | errors | p50 | p90 | p99 | cores busy | p50 vs official |")
    add("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    peer = results.targets.get(PEER)
    for sid in SEQUENTIAL:
        for t in results.targets.values():
            o = t.outcomes.get(sid)
            if not o:
                continue
            L += _rows(t, sid, o, peer)
    add("")
    return L


def _rows(t: TargetResult, sid: str, o: Outcome, peer: TargetResult | None) -> list[str]:
    """The scenario's row; for streams, time to first event and events/s too."""
    p = peer.outcomes.get(sid) if peer else None
    vs = ratio_faster(ms(o.latencies, 50), ms(p.latencies, 50)) if p and t.key != PEER else ""
    rows = [
        f"| {LABELS[sid]} | {t.name} | {len(o.latencies)} | {o.errors} | "
        f"{fnum(ms(o.latencies, 50))} | {fnum(ms(o.latencies, 90))} | {fnum(ms(o.latencies, 99))} "
        f"| {fmt_cores(o)} | {vs} |"
    ]
    if sid == "stream-sdk" and o.steps.get("ttfe"):
        rows += _stream_rows(t, sid, o, peer)
    return rows


def _stream_rows(t: TargetResult, sid: str, o: Outcome, peer: TargetResult | None) -> list[str]:
    pv = peer.outcomes.get(sid) if peer else None
    ttfe = o.steps["ttfe"]
    vs = (
        ratio_faster(ms(ttfe, 50), ms(pv.steps.get("ttfe", []), 50)) if pv and t.key != PEER else ""
    )
    rows = [
        f"| stream: time to first event | {t.name} | {len(ttfe)} | | {fnum(ms(ttfe, 50))} | "
        f"{fnum(ms(ttfe, 90))} | {fnum(ms(ttfe, 99))} | | {vs} |"
    ]
    eps = o.steps.get("events/s", [])
    peps = pv.steps.get("events/s", []) if pv else []
    vs = ratio_more(pct(eps, 50), pct(peps, 50)) if peps and t.key != PEER else ""
    rows.append(
        f"| stream: events/s (p50 over runs; p90, p99 of the slowest runs) | {t.name} | {len(eps)} | | "
        f"{fnum(pct(eps, 50), 0)} | {fnum(pct(eps, 10), 0)} | {fnum(pct(eps, 1), 0)} | | {vs} |"
    )
    return rows


def official_queue_note(results: Results) -> list[str]:
    peer = results.targets.get(PEER)
    if not (peer and not peer.failed):
        return []
    return [
        "langgraph dev's 1-client latencies are dominated by its in-memory queue: when idle, "
        "it polls every 0.5 s and takes only runs created before the poll began "
        "(`Runs.next` in `langgraph_runtime_inmem/ops.py`), so each run waits about 0.5-1 s "
        "before it starts. Under load (next section) the queue is never idle and this wait "
        "disappears: compare throughput there.",
        "",
    ]


def cycle_steps(results: Results) -> list[str]:
    L: list[str] = []
    add = L.append
    add("Median time of each step of the interrupt cycle (ms):")
    add("")
    add("| client | target | create thread | run to interrupt | resume |")
    add("|---|---|---:|---:|---:|")
    for sid in ("interrupt-sdk", "interrupt-raw"):
        for t in results.targets.values():
            o = t.outcomes.get(sid)
            if o and o.steps:
                s = o.steps
                add(
                    f"| {sid.split('-')[1]} | {t.name} | {fnum(ms(s['create'], 50))} | "
                    f"{fnum(ms(s['to interrupt'], 50))} | {fnum(ms(s['resume'], 50))} |"
                )
    add("")
    return L
