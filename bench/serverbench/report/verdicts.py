"""Our targets (latency, throughput against the official server, no decline,
scale-out, memory), each judged MET / NOT MET / n/a from the results."""

# ruff: noqa: RUF001

from __future__ import annotations

from typing import TYPE_CHECKING

from serverbench.report.numbers import OURS, PEER, ms
from serverbench.report.soak import soak_flatness

if TYPE_CHECKING:
    from serverbench.config import Config
    from serverbench.results import Results, TargetResult

# (criterion, measured, met: True / False / None when it cannot be judged)
Check = tuple[str, str, bool | None]


def evaluate(results: Results) -> list[tuple[str, str, str, str]]:
    """(target, criterion, measured, MET / NOT MET / n/a) for each of our targets."""
    cfg = results.config
    peer = results.targets.get(PEER)
    out = []
    for key in OURS:
        t = results.targets.get(key)
        if t is None or t.failed:
            continue
        checks = [
            *_latency(t),
            *_throughput(t, peer, cfg),
            *_soak(t, cfg),
            *_scaleout(t),
            *_memory(t),
        ]
        for criterion, measured, ok in checks:
            verdict = "n/a" if ok is None else ("MET" if ok else "NOT MET")
            out.append((t.name, criterion, measured, verdict))
    return out


def _latency(t: TargetResult) -> list[Check]:
    out: list[Check] = []
    sdk = t.outcomes.get("interrupt-sdk")
    if sdk and sdk.latencies:
        p50, p99 = ms(sdk.latencies, 50), ms(sdk.latencies, 99)
        out.append(("interrupt cycle, SDK: p50 ≤ 10 ms", f"{p50:.1f} ms", p50 <= 10))
        out.append(("interrupt cycle, SDK: p99 ≤ 30 ms", f"{p99:.1f} ms", p99 <= 30))
    raw = t.outcomes.get("interrupt-raw")
    if raw and raw.latencies:
        p50 = ms(raw.latencies, 50)
        out.append(("interrupt cycle, raw HTTP: p50 ≤ 5 ms", f"{p50:.1f} ms", p50 <= 5))
    return out


def _throughput(t: TargetResult, peer: TargetResult | None, cfg: Config) -> list[Check]:
    load = t.outcomes.get("interrupt-load")
    peer_load = peer.outcomes.get("interrupt-load") if peer and not peer.failed else None
    if not load:
        return []
    criterion = f"throughput at {cfg.concurrency} clients ≥ 4× the official server"
    if peer_load and peer_load.throughput:
        r = load.throughput / peer_load.throughput
        measured = f"{load.throughput:.1f} vs {peer_load.throughput:.1f} cycles/s = {r:.2f}×"
        return [(criterion, measured, r >= 4)]
    return [(criterion, "no peer run", None)]


def _soak(t: TargetResult, cfg: Config) -> list[Check]:
    soak = t.outcomes.get("soak")
    if not (soak and soak.timeline):
        return []
    first, last, r = soak_flatness(soak)
    return [
        (
            f"no decline over {cfg.soak_duration:.0f} s at {cfg.concurrency} clients (last fifth ≥ 0.9× first fifth)",
            f"{first:.1f} → {last:.1f} cycles/s ({r:.2f}×)",
            r >= 0.9,
        )
    ]


def _scaleout(t: TargetResult) -> list[Check]:
    """The first series is the target; the others are shown for comparison."""
    out: list[Check] = []
    for i, (label, series) in enumerate(t.scaleout.items()):
        if len(series) < 2:
            continue
        (n1, o1), (nk, ok_) = series[0], series[-1]
        eff = ok_.throughput / (o1.throughput * nk / n1) if o1.throughput else float("nan")
        out.append(
            (
                f"scale-out {n1}→{nk} executors ≥ 0.9× linear"
                + ("" if i == 0 else f" ({label}: not the target, for comparison)"),
                f"{o1.throughput:.1f} → {ok_.throughput:.1f} runs/s = {eff:.2f}× linear",
                eff >= 0.9 if i == 0 else None,
            )
        )
    return out


def _memory(t: TargetResult) -> list[Check]:
    out: list[Check] = []
    for proc in ("gateway", "executor"):
        values = [v for k, v in t.rss_idle.items() if k == proc or k.startswith(proc + "-")]
        if values:
            worst = max(values)
            out.append(
                (
                    f"{proc} RSS at idle ≤ 100 MB",
                    f"{worst:.0f} MiB = {worst * 1.048576:.0f} MB",
                    worst * 1.048576 <= 100,
                )
            )
    return out
