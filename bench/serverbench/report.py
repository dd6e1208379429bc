"""The results as markdown (server.md), JSON (server.json) and PNG plots."""

# ruff: noqa: RUF001

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from serverbench.profile import RATE
from serverbench.scenarios import Outcome

if TYPE_CHECKING:
    from serverbench.main import Results, TargetResult

PEER = "official"
LABELS = {
    "interrupt-sdk": "interrupt cycle, SDK",
    "interrupt-raw": "interrupt cycle, raw HTTP",
    "stateless-sdk": "stateless `/runs/wait`, SDK",
    "stream-sdk": "stream of custom events (whole stream), SDK",
}
OURS = ("relaygraph-dev", "relaygraph-split")
COLORS = {"relaygraph-dev": "tab:blue", "relaygraph-split": "tab:green", "official": "tab:red"}


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def ms(values: list[float], q: float) -> float:
    return pct(values, q) * 1000


def _f(x: float | None, digits: int = 1) -> str:
    if x is None or x != x:
        return "-"
    return f"{x:,.{digits}f}"


def _ratio_faster(ours: float, peer: float) -> str:
    """Latency: how many times lower ours is."""
    if not ours or not peer or ours != ours or peer != peer:
        return "-"
    return f"{peer / ours:.1f}× lower"


def _ratio_more(ours: float, peer: float) -> str:
    if not ours or not peer:
        return "-"
    return f"{ours / peer:.1f}×"


def soak_flatness(o: Outcome) -> tuple[float, float, float]:
    """(first-fifth throughput, last-fifth throughput, last/first)."""
    rates = [r for _, r in o.timeline]
    if len(rates) < 2:
        return float("nan"), float("nan"), float("nan")
    k = max(1, len(rates) // 5)
    first, last = float(np.mean(rates[:k])), float(np.mean(rates[-k:]))
    return first, last, (last / first if first else float("nan"))


GRAPHS_CONFIG = Path(__file__).resolve().parents[1] / "graphs" / "langgraph.json"
STORES = ("valkey-server", "nats-server")


def retention_mark() -> float:
    """Seconds into a soak after which the first threads have expired and been
    swept (bench/graphs/langgraph.json's thread TTL plus two sweeps), and
    run events older than NATS_EVENTS_MAX_AGE are gone."""
    config = json.loads(GRAPHS_CONFIG.read_text())
    ttl = config["checkpointer"]["ttl"]
    events = float(config.get("env", {}).get("NATS_EVENTS_MAX_AGE", 3600))
    return max(ttl["default_ttl"] * 60 + 2 * ttl["sweep_interval_minutes"] * 60, events)


def retention(o: Outcome) -> dict[str, tuple[float, float]] | None:
    """Each store's RSS (MiB) at the retention mark and at the end of the
    soak; ``None`` when the soak was shorter than the mark."""
    mark = retention_mark()
    after = [(x, snap) for x, snap in o.rss_timeline if x >= mark]
    if len(after) < 2:
        return None
    first, last = after[0][1], after[-1][1]
    return {k: (first[k], last[k]) for k in STORES if k in first and k in last}


def summary(t: TargetResult) -> dict[str, Any]:
    def one(o: Outcome) -> dict[str, Any]:
        d: dict[str, Any] = {
            "n": len(o.latencies),
            "errors": o.errors,
            "error_examples": o.error_examples,
            "p50_ms": ms(o.latencies, 50),
            "p90_ms": ms(o.latencies, 90),
            "p99_ms": ms(o.latencies, 99),
            "cpu_ms_per_op": o.cpu_ms_per_op,
            "steps_p50_ms": {k: ms(v, 50) for k, v in o.steps.items() if k != "events/s"},
        }
        if "events/s" in o.steps:
            d["events_per_s_p50"] = pct(o.steps["events/s"], 50)
        if o.duration:
            d.update(
                concurrency=o.concurrency,
                duration_s=o.duration,
                throughput=o.throughput,
                timeline=o.timeline,
                ours_cores=o.ours_cores,
                machine_cores=o.machine_cores,
            )
        if o.rss_timeline:
            d["rss_timeline"] = o.rss_timeline
        if len(o.latencies) <= 2000:
            d["latencies_ms"] = [round(x * 1000, 3) for x in o.latencies]
        return d

    return {
        "name": t.name,
        "failed": t.failed,
        "rss_idle_mib": t.rss_idle,
        "rss_after_mib": t.rss_after,
        "scenarios": {k: one(o) for k, o in t.outcomes.items()},
        "scaleout": {
            label: [{"executors": n, **one(o)} for n, o in series]
            for label, series in t.scaleout.items()
        },
        "profile_cpu_ms_per_cycle": t.profile_cpu,
        "redis_commands_per_cycle": t.redis_per_cycle,
        "io_per_cycle": t.io_per_cycle,
        "profiles": [p.__dict__ for p in t.profiles],
        "log_problems": t.log_problems,
    }


# --- targets ---------------------------------------------------------------------


def evaluate(results: Results) -> list[tuple[str, str, str, str]]:
    """(target, criterion, measured, MET / NOT MET / n/a) for each of our targets."""
    cfg = results.config
    peer = results.targets.get(PEER)
    out = []
    for key in OURS:
        t = results.targets.get(key)
        if t is None or t.failed:
            continue

        def add(criterion: str, measured: str, ok: bool | None, name: str = t.name) -> None:
            verdict = "n/a" if ok is None else ("MET" if ok else "NOT MET")
            out.append((name, criterion, measured, verdict))

        sdk = t.outcomes.get("interrupt-sdk")
        if sdk and sdk.latencies:
            p50, p99 = ms(sdk.latencies, 50), ms(sdk.latencies, 99)
            add("interrupt cycle, SDK: p50 ≤ 10 ms", f"{p50:.1f} ms", p50 <= 10)
            add("interrupt cycle, SDK: p99 ≤ 30 ms", f"{p99:.1f} ms", p99 <= 30)
        raw = t.outcomes.get("interrupt-raw")
        if raw and raw.latencies:
            p50 = ms(raw.latencies, 50)
            add("interrupt cycle, raw HTTP: p50 ≤ 5 ms", f"{p50:.1f} ms", p50 <= 5)
        load = t.outcomes.get("interrupt-load")
        peer_load = peer.outcomes.get("interrupt-load") if peer and not peer.failed else None
        if load:
            if peer_load and peer_load.throughput:
                r = load.throughput / peer_load.throughput
                add(
                    f"throughput at {cfg.concurrency} clients ≥ 4× the official server",
                    f"{load.throughput:.1f} vs {peer_load.throughput:.1f} cycles/s = {r:.2f}×",
                    r >= 4,
                )
            else:
                add(
                    f"throughput at {cfg.concurrency} clients ≥ 4× the official server",
                    "no peer run",
                    None,
                )
        soak = t.outcomes.get("soak")
        if soak and soak.timeline:
            first, last, r = soak_flatness(soak)
            add(
                f"no decline over {cfg.soak_duration:.0f} s at {cfg.concurrency} clients (last fifth ≥ 0.9× first fifth)",
                f"{first:.1f} → {last:.1f} cycles/s ({r:.2f}×)",
                r >= 0.9,
            )
        for i, (label, series) in enumerate(t.scaleout.items()):
            if len(series) < 2:
                continue
            (n1, o1), (nk, ok_) = series[0], series[-1]
            eff = ok_.throughput / (o1.throughput * nk / n1) if o1.throughput else float("nan")
            add(
                f"scale-out {n1}→{nk} executors ≥ 0.9× linear"
                + ("" if i == 0 else f" ({label}: not the target, for comparison)"),
                f"{o1.throughput:.1f} → {ok_.throughput:.1f} runs/s = {eff:.2f}× linear",
                eff >= 0.9 if i == 0 else None,
            )
        for proc in ("gateway", "executor"):
            values = [v for k, v in t.rss_idle.items() if k == proc or k.startswith(proc + "-")]
            if values:
                worst = max(values)
                add(
                    f"{proc} RSS at idle ≤ 100 MB",
                    f"{worst:.0f} MiB = {worst * 1.048576:.0f} MB",
                    worst * 1.048576 <= 100,
                )
    return out


# --- markdown ----------------------------------------------------------------------


def markdown(results: Results) -> str:
    cfg, meta = results.config, results.meta
    T = results.targets
    peer = T.get(PEER)
    L: list[str] = []
    add = L.append
    add("# relaygraph vs the official LangGraph dev server")
    add("")
    add(
        "Written by `bench/run.py` (`make bench`; `make bench-quick` for a short run). The same "
        "graphs (`bench/graphs/langgraph.json`) and the same official `langgraph_sdk` client "
        "against each target, one target at a time, on this machine. Every answer is checked "
        "(a wrong answer counts as an error). Latencies in ms."
    )
    add("")
    add("Targets:")
    add("")
    add(
        "- **relaygraph dev**: `relaygraph dev --port P --config …` (embedded nats-server and "
        "Valkey, one executor, the reviewer, all as it starts them)."
    )
    add(
        "- **relaygraph split**: nats-server, Valkey, one gateway and N executors as separate "
        "processes (`relaygraph gateway` / `relaygraph executor`)."
    )
    add(
        "- **langgraph dev**: the official server, `langgraph dev --host 127.0.0.1 --port P "
        "--no-browser --no-reload --allow-blocking --n-jobs-per-worker 10 --config langgraph.json` "
        "(`langgraph-cli[inmem]`, pinned in `bench/official-requirements.txt`, in its own venv; "
        "tracing and analytics off)."
    )
    add("")
    add("## Machine")
    add("")
    add("| | |")
    add("|---|---|")
    add(f"| date | {meta['date']} |")
    add(f"| mode | {meta['mode']} |")
    add(f"| CPU | {meta['cpu']}, nproc = {meta['nproc']} |")
    add(f"| memory | {meta['memory_gib']} GiB |")
    add(f"| kernel / python | {meta['kernel']} / {meta['python']} |")
    la0, la1 = meta.get("loadavg_at_start"), meta.get("loadavg_at_end")
    add(f"| load average at start / end | {_load(la0)} / {_load(la1)} |")
    before = meta.get("other_load_before")
    if before:
        add(
            "| other load before each target (cores) | "
            + ", ".join(f"{k} {v:.2f}" for k, v in before.items())
            + " |"
        )
    rs = meta["relaygraph_side"]
    add(f"| relaygraph | {rs.get('relaygraph')} (git {meta.get('git')}) |")
    add(
        "| relaygraph side | "
        + ", ".join(f"{k} {v}" for k, v in rs.items() if k != "relaygraph")
        + " |"
    )
    if "official_side" in meta:
        add(
            "| official side | "
            + ", ".join(f"{k} {v}" for k, v in meta["official_side"].items())
            + " |"
        )
    add("")
    add(
        "The benchmark client (one asyncio process) runs on the same cores as the servers; "
        "its CPU time per operation is in the CPU table below."
    )
    add("")

    failed = [t for t in T.values() if t.failed]
    for t in failed:
        add(f"**{t.name} failed:**")
        add("")
        add("```text")
        add(t.failed.strip())
        add("```")
        add("")

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
    for sid in ("interrupt-sdk", "interrupt-raw", "stateless-sdk", "stream-sdk"):
        for t in T.values():
            o = t.outcomes.get(sid)
            if not o:
                continue
            p = peer.outcomes.get(sid) if peer else None
            vs = (
                _ratio_faster(ms(o.latencies, 50), ms(p.latencies, 50))
                if p and t.key != PEER
                else ""
            )
            add(
                f"| {LABELS[sid]} | {t.name} | {len(o.latencies)} | {o.errors} | "
                f"{_f(ms(o.latencies, 50))} | {_f(ms(o.latencies, 90))} | {_f(ms(o.latencies, 99))} "
                f"| {_cores(o)} | {vs} |"
            )
            if sid == "stream-sdk" and o.steps.get("ttfe"):
                pv = peer.outcomes.get(sid) if peer else None
                ttfe = o.steps["ttfe"]
                vs = (
                    _ratio_faster(ms(ttfe, 50), ms(pv.steps.get("ttfe", []), 50))
                    if pv and t.key != PEER
                    else ""
                )
                add(
                    f"| stream: time to first event | {t.name} | {len(ttfe)} | | {_f(ms(ttfe, 50))} | "
                    f"{_f(ms(ttfe, 90))} | {_f(ms(ttfe, 99))} | | {vs} |"
                )
                eps = o.steps.get("events/s", [])
                peps = pv.steps.get("events/s", []) if pv else []
                vs = _ratio_more(pct(eps, 50), pct(peps, 50)) if peps and t.key != PEER else ""
                add(
                    f"| stream: events/s (p50 over runs; p90, p99 of the slowest runs) | {t.name} | {len(eps)} | | "
                    f"{_f(pct(eps, 50), 0)} | {_f(pct(eps, 10), 0)} | {_f(pct(eps, 1), 0)} | | {vs} |"
                )
    add("")
    if peer and not peer.failed:
        add(
            "langgraph dev's 1-client latencies are dominated by its in-memory queue: when idle, "
            "it polls every 0.5 s and takes only runs created before the poll began "
            "(`Runs.next` in `langgraph_runtime_inmem/ops.py`), so each run waits about 0.5-1 s "
            "before it starts. Under load (next section) the queue is never idle and this wait "
            "disappears: compare throughput there."
        )
        add("")
    add("Median time of each step of the interrupt cycle (ms):")
    add("")
    add("| client | target | create thread | run to interrupt | resume |")
    add("|---|---|---:|---:|---:|")
    for sid in ("interrupt-sdk", "interrupt-raw"):
        for t in T.values():
            o = t.outcomes.get(sid)
            if o and o.steps:
                s = o.steps
                add(
                    f"| {sid.split('-')[1]} | {t.name} | {_f(ms(s['create'], 50))} | "
                    f"{_f(ms(s['to interrupt'], 50))} | {_f(ms(s['resume'], 50))} |"
                )
    add("")

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
            vs = _ratio_more(o.throughput, p.throughput) if p and t.key != PEER else ""
            label = f"interrupt cycle, {o.concurrency} clients, {o.duration:.0f} s"
            add(
                f"| {label} | {t.name} | {_f(o.throughput)} | {o.errors} | {_f(ms(o.latencies, 50))} | "
                f"{_f(ms(o.latencies, 90))} | {_f(ms(o.latencies, 99))} | {_cores(o)} | {vs} |"
            )
    soaks = [(t, t.outcomes["soak"]) for t in T.values() if "soak" in t.outcomes]
    if soaks:
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
            add(f"| {t.name} | {_f(first)} | {_f(last)} | {_f(r, 2)} | {rss} |")
        add("")
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
    add("")

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
    for t in T.values():
        o = t.outcomes.get("interrupt-load")
        if not o or not o.cpu_ms_per_op:
            continue
        total = 0.0
        for k, v in sorted(o.cpu_ms_per_op.items(), key=lambda kv: -kv[1]):
            total += v if k != "bench client" else 0
            add(f"| {t.name} | {k} | {v:.2f} |")
        add(f"| {t.name} | **all server processes** | **{total:.2f}** |")
    add("")

    ours_scale = [t for t in T.values() if t.scaleout]
    peer_io = peer.outcomes.get("io") if peer else None
    if ours_scale or peer_io:
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
            for label, series in t.scaleout.items():
                if not series:
                    continue
                n1, o1 = series[0]
                base = o1.throughput / n1 if o1.throughput else 0
                for n, o in series:
                    lin = o.throughput / (base * n) if base else float("nan")
                    add(
                        f"| {t.name} | {label} | {n} | {_f(o.throughput)} | {_f(o.throughput / n)} "
                        f"| {_f(lin, 2)} | {_cores(o)} | {o.errors} | "
                        f"{_f(ms(o.latencies, 50))} | {_f(ms(o.latencies, 99))} |"
                    )
        if peer_io:
            add(
                f"| langgraph dev | `--n-jobs-per-worker 10` | (1 process) | {_f(peer_io.throughput)} "
                f"| | | {_cores(peer_io)} | {peer_io.errors} | "
                f"{_f(ms(peer_io.latencies, 50))} | {_f(ms(peer_io.latencies, 99))} |"
            )
        add("")

    add("## Memory (RSS, MiB)")
    add("")
    add("At idle: after start and a few warm-up runs. After: 2 s after the last load.")
    add("")
    add("| target | process | idle | after the load |")
    add("|---|---|---:|---:|")
    for t in T.values():
        names = list(dict.fromkeys([*t.rss_idle, *t.rss_after]))
        for k in names:
            add(f"| {t.name} | {k} | {_f(t.rss_idle.get(k), 0)} | {_f(t.rss_after.get(k), 0)} |")
        if names:
            add(
                f"| {t.name} | **all** | **{_f(sum(t.rss_idle.values()), 0)}** | "
                f"**{_f(sum(t.rss_after.values()), 0)}** |"
            )
    add("")

    verdicts = evaluate(results)
    if verdicts:
        add("## Targets")
        add("")
        add("| target | criterion | measured | verdict |")
        add("|---|---|---|---|")
        for name, crit, measured, verdict in verdicts:
            v = f"**{verdict}**" if verdict == "NOT MET" else verdict
            add(f"| {name} | {crit} | {measured} | {v} |")
        add("")

    profiled = [t for t in T.values() if t.profiles]
    if profiled:
        add("## Where the time goes (py-spy)")
        add("")
        add(
            f"`py-spy record --rate {RATE} --idle --threads` on the gateway and the executor while "
            "one client, then N clients, run interrupt cycles back to back. py-spy samples wall "
            "clock; samples of a thread that waits (the event loop in its selector or in uvloop's C "
            "loop, an idle pool thread) are left out, and percentages are of the remaining busy "
            "samples of all threads. On a machine with more runnable processes than cores, a "
            "thread also shows busy while it waits for a core, typically right in the `write` "
            "that woke another process: socket writes look dearer than their CPU. "
            '"Event loop busy" is the share of the event-loop thread\'s wall time not spent '
            "waiting: near 100% means that process is the bottleneck. Raw stacks: "
            "`server_profile/*.folded.gz` (gunzip; flamegraph.pl or speedscope read them)."
        )
        add("")
        for t in profiled:
            for phase, cpu in t.profile_cpu.items():
                if cpu:
                    add(
                        f"CPU ms per cycle during `{phase}` ({t.name}, while profiled): "
                        + ", ".join(
                            f"{k} {v:.2f}" for k, v in sorted(cpu.items(), key=lambda kv: -kv[1])
                        )
                    )
                    add("")
            for phase, io in t.io_per_cycle.items():
                add(_io_line(t.name, phase, io, t.profile_cpu.get(phase, {})))
                add("")
            for phase, stats in t.redis_per_cycle.items():
                total_calls = sum(c for c, _ in stats.values())
                total_us = sum(u for _, u in stats.values())
                add(
                    f"Valkey commands per interrupt cycle during `{phase}` ({t.name}, from "
                    f"`INFO commandstats`, which counts the commands scripts run too, and background "
                    f"work such as lease sweeps): {total_calls:.1f} calls, {total_us:.0f} µs of "
                    "Valkey time; "
                    + ", ".join(
                        f"{cmd} {c:.1f}"
                        for cmd, (c, _) in sorted(stats.items(), key=lambda kv: -kv[1][0])[:14]
                    )
                )
                add("")
            for prof in t.profiles:
                add(f"### {prof.process}, {prof.phase}")
                add("")
                if prof.error:
                    add(f"Profile failed: `{prof.error}`")
                    add("")
                    continue
                add(
                    f"Event loop busy {prof.loop_busy_pct:.0f}% of the time; {prof.busy} busy "
                    f"samples of {prof.samples}. By package (self): "
                    + ", ".join(f"{k} {v:.0f}%" for k, v in prof.by_package[:10])
                )
                add("")
                add("| self | function | inclusive | function |")
                add("|---:|---|---:|---|")
                for i in range(max(len(prof.top_self), len(prof.top_inclusive))):
                    s_ = prof.top_self[i] if i < len(prof.top_self) else None
                    n_ = prof.top_inclusive[i] if i < len(prof.top_inclusive) else None
                    add(f"| {_cell(s_)} | {_cell(n_)} |")
                add("")
                if prof.first_party:
                    add(
                        "relaygraph's own functions (inclusive): "
                        + "; ".join(f"`{k}` {v:.0f}%" for k, v in prof.first_party[:12])
                    )
                    add("")

    errors = [(t, sid, o) for t in T.values() for sid, o in t.outcomes.items() if o.errors]
    errors += [
        (t, f"io-{n}x ({label})", o)
        for t in T.values()
        for label, series in t.scaleout.items()
        for n, o in series
        if o.errors
    ]
    add("## Errors")
    add("")
    if not errors:
        add("None: every answer was checked and right.")
    noisy = [t for t in T.values() if t.log_problems]
    if errors and noisy:
        add("")
        add("The most frequent warnings and errors in the servers' logs (ids blanked):")
        add("")
        for t in noisy:
            for n, line in t.log_problems:
                add(f"- {t.name}: {n}× `{line}`")
        add("")
    for t, sid, o in errors:
        add(
            f"- {t.name}, {sid}: {o.errors} error(s); first: "
            + "; ".join(f"`{e}`" for e in o.error_examples[:3])
        )
    add("")
    add(
        "Plots: `server_latency.png`, `server_throughput.png`, `server_scaleout.png`, `server_memory.png`."
    )
    add("")
    return "\n".join(L)


def _cores(o: Outcome) -> str:
    """CPU s/s of the target + client, and of everything else on the machine."""
    if not o.machine_cores:
        return "-"
    return f"{o.ours_cores:.2f} + {max(0.0, o.machine_cores - o.ours_cores):.2f}"


def _cell(item: tuple[str, float] | None) -> str:
    return " | " if item is None else f"{item[1]:.1f}% | `{item[0]}`"


def _pc(x: float | None) -> str:
    return "" if x is None else f"{x:.1f}%"


def _load(la: Any) -> str:
    return "-" if not la else " ".join(f"{x:.2f}" for x in la)


# --- plots -------------------------------------------------------------------------


def plots(results: Results, out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    T = results.targets
    made = []

    # latency CDFs
    panels = [
        ("interrupt-sdk", "interrupt cycle, SDK"),
        ("interrupt-raw", "interrupt cycle, raw HTTP"),
        ("stateless-sdk", "stateless /runs/wait, SDK"),
        ("stream-ttfe", "stream: time to first event, SDK"),
    ]
    fig, axes = plt.subplots(2, 2, figsize=(12, 8.5))
    for ax, (sid, title) in zip(axes.flat, panels, strict=True):
        for t in T.values():
            if sid == "stream-ttfe":
                o = t.outcomes.get("stream-sdk")
                values = o.steps.get("ttfe", []) if o else []
            else:
                o = t.outcomes.get(sid)
                values = o.latencies if o else []
            if not values:
                continue
            xs = np.sort(np.array(values) * 1000)
            ys = np.arange(1, len(xs) + 1) / len(xs)
            ax.step(
                xs,
                ys,
                where="post",
                color=COLORS.get(t.key),
                label=f"{t.name} (p50 {np.median(xs):.1f} ms)",
            )
        ax.set_xscale("log")
        ax.set_title(title)
        ax.set_xlabel("latency (ms, log scale)")
        ax.set_ylabel("fraction of requests ≤ x")
        ax.grid(True, which="both", alpha=0.3)
        if sid == "interrupt-sdk":
            ax.axvline(10, color="grey", ls="--", lw=1)
            ax.axvline(30, color="grey", ls=":", lw=1)
        if sid == "interrupt-raw":
            ax.axvline(5, color="grey", ls="--", lw=1)
        ax.legend(loc="lower right", fontsize=9)
    fig.suptitle("Latency distribution (CDF), 1 client, sequential; dashed lines: targets")
    fig.tight_layout()
    made.append(_save(fig, out / "server_latency.png"))
    plt.close(fig)

    # throughput over time (sustained run) + RSS
    soaks = [(t, t.outcomes["soak"]) for t in T.values() if "soak" in t.outcomes]
    loads = [
        (t, t.outcomes["interrupt-load"]) for t in T.values() if "interrupt-load" in t.outcomes
    ]
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(12, 8.5), sharex=bool(soaks))
    for t, o in soaks or loads:
        xs = [x for x, _ in o.timeline]
        ax1.plot(xs, [y for _, y in o.timeline], color=COLORS.get(t.key), marker=".", label=t.name)
    ax1.set_ylabel("interrupt cycles / s")
    ax1.set_ylim(bottom=0)
    ax1.grid(True, alpha=0.3)
    ax1.legend(loc="center right")
    cfg = results.config
    what = f"{cfg.soak_duration:.0f} s" if soaks else f"{cfg.tp_duration:.0f} s"
    ax1.set_title(
        f"Throughput over time, {cfg.concurrency} concurrent SDK clients ({what}, interrupt cycles)"
    )
    styles = {"relaygraph-dev": "-", "relaygraph-split": "-.", "official": "--"}
    palette = plt.get_cmap("tab10").colors
    proc_colors: dict[str, Any] = {}
    for t, o in soaks:
        if not o.rss_timeline:
            continue
        names = [k for k in o.rss_timeline[-1][1] if k != "relaygraph dev (supervisor)"]
        for name in names:
            color = proc_colors.setdefault(name, palette[len(proc_colors) % len(palette)])
            xs = [x for x, snap in o.rss_timeline if name in snap]
            ys = [snap[name] for _, snap in o.rss_timeline if name in snap]
            ax2.plot(xs, ys, color=color, ls=styles.get(t.key, ":"), label=f"{t.name}: {name}")
    ax2.set_xlabel("seconds into the run")
    ax2.set_ylabel("RSS (MiB)")
    ax2.set_title("Memory of each process during the sustained run")
    ax2.grid(True, alpha=0.3)
    if soaks:
        ax2.legend(fontsize=8, ncol=2, loc="upper left")
    fig.tight_layout()
    made.append(_save(fig, out / "server_throughput.png"))
    plt.close(fig)

    # scale-out
    scal = [t for t in T.values() if t.scaleout]
    peer = T.get(PEER)
    if scal:
        fig, ax = plt.subplots(figsize=(9, 6))
        markers = ["o", "s", "^", "D"]
        for t in scal:
            for i, (label, series) in enumerate(t.scaleout.items()):
                if not series:
                    continue
                ns = [n for n, _ in series]
                ys = [o.throughput for _, o in series]
                ax.plot(
                    ns,
                    ys,
                    marker=markers[i % len(markers)],
                    ls="-" if i == 0 else "-.",
                    color=COLORS.get(t.key) if i == 0 else "tab:purple",
                    label=f"{t.name}, {label}",
                )
                for n, y in zip(ns, ys, strict=True):
                    ax.annotate(
                        f"{y:.0f}", (n, y), textcoords="offset points", xytext=(0, 8), ha="center"
                    )
                base = ys[0] / ns[0]
                ax.plot(
                    ns,
                    [base * n for n in ns],
                    ls="--",
                    color="grey",
                    lw=1,
                    label="linear from 1 executor" if i == 0 else None,
                )
                ax.plot(
                    ns,
                    [0.9 * base * n for n in ns],
                    ls=":",
                    color="grey",
                    lw=1,
                    label="0.9 × linear (target)" if i == 0 else None,
                )
        if peer and "io" in peer.outcomes:
            ax.axhline(
                peer.outcomes["io"].throughput,
                color=COLORS[PEER],
                ls="-.",
                label="langgraph dev (1 process)",
            )
        ax.set_xlabel("executor processes")
        ax.set_ylabel("runs / s")
        ax.set_xticks(
            sorted({n for t in scal for series in t.scaleout.values() for n, _ in series})
        )
        ax.set_ylim(bottom=0)
        ax.grid(True, alpha=0.3)
        ax.legend()
        ax.set_title(
            f"Scale-out: I/O-bound graph (2 × 50 ms sleep), {results.config.scaleout_concurrency} clients"
        )
        fig.tight_layout()
        made.append(_save(fig, out / "server_scaleout.png"))
        plt.close(fig)

    # memory
    rows = []
    for t in T.values():
        for k in dict.fromkeys([*t.rss_idle, *t.rss_after]):
            rows.append((f"{t.name}\n{k}", t.rss_idle.get(k, 0), t.rss_after.get(k, 0), t.key))
    if rows:
        fig, ax = plt.subplots(figsize=(12, max(4, 0.45 * len(rows) + 1.5)))
        ys = np.arange(len(rows))
        ax.barh(
            ys - 0.2,
            [r[1] for r in rows],
            height=0.4,
            label="idle",
            color=[COLORS.get(r[3]) for r in rows],
            alpha=0.5,
        )
        ax.barh(
            ys + 0.2,
            [r[2] for r in rows],
            height=0.4,
            label="after the load",
            color=[COLORS.get(r[3]) for r in rows],
        )
        for y, r in zip(ys, rows, strict=True):
            ax.text(max(r[1], r[2]) + 2, y, f"{r[1]:.0f} → {r[2]:.0f}", va="center", fontsize=8)
        ax.set_yticks(ys, [r[0].replace("\n", ": ") for r in rows], fontsize=8)
        ax.invert_yaxis()
        ax.axvline(100 / 1.048576, color="grey", ls="--", lw=1, label="100 MB")
        ax.set_xlabel("RSS (MiB); light: idle, dark: after the load")
        ax.set_title("Memory of every process")
        ax.grid(True, axis="x", alpha=0.3)
        ax.set_xlim(0, max(max(r[1], r[2]) for r in rows) * 1.2)
        ax.legend(loc="upper right")
        fig.tight_layout()
        made.append(_save(fig, out / "server_memory.png"))
        plt.close(fig)
    return made


def _save(fig: Any, path: Path) -> Path:
    fig.savefig(path, dpi=110)
    return path


def write_report(results: Results, out: Path) -> None:
    from serverbench.main import dump_json

    (out / "server.json").write_text(json.dumps(dump_json(results), indent=1, default=str) + "\n")
    (out / "server.md").write_text(markdown(results))
    plots(results, out)


def _io_line(name: str, phase: str, io: dict[str, float], cpu: dict[str, float]) -> str:
    """Per interrupt cycle: bytes into Valkey, NATS messages, and what one core
    of each server carries at that cost (its CPU ms per cycle)."""
    line = (
        f"Per interrupt cycle during `{phase}` ({name}): {io['redis_bytes_in'] / 1024:.1f} KiB "
        f"written to Valkey ({io['redis_bytes_out'] / 1024:.1f} KiB read), "
        f"{io['nats_msgs_in']:.1f} NATS messages in ({io['nats_bytes_in'] / 1024:.1f} KiB) and "
        f"{io['nats_msgs_out']:.1f} out"
    )
    valkey, nats = cpu.get("valkey-server"), cpu.get("nats-server")
    if valkey and nats:
        line += (
            f"; Valkey {valkey:.3f} and nats-server {nats:.3f} CPU ms per cycle, so one core "
            f"of each carries about {1000 / valkey:.0f} and {1000 / nats:.0f} cycles/s"
        )
    return line + "."
