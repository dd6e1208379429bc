"""server.md, "Where the time goes (py-spy)": per profiled target, CPU and
wire traffic per cycle, Valkey commands per cycle, and each process's profile."""

from __future__ import annotations

from typing import TYPE_CHECKING

from serverbench.profile import RATE, Profile
from serverbench.report.numbers import fmt_cell

if TYPE_CHECKING:
    from serverbench.results import Results, TargetResult


def profiles(results: Results) -> list[str]:
    profiled = [t for t in results.targets.values() if t.profiles]
    if not profiled:
        return []
    L: list[str] = []
    add = L.append
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
        L += _per_cycle(t)
        for prof in t.profiles:
            L += _profile(prof)
    return L


def _per_cycle(t: TargetResult) -> list[str]:
    """CPU, bytes and messages, and Valkey commands per interrupt cycle, per phase."""
    L: list[str] = []
    add = L.append
    for phase, cpu in t.profile_cpu.items():
        if cpu:
            add(
                f"CPU ms per cycle during `{phase}` ({t.name}, while profiled): "
                + ", ".join(f"{k} {v:.2f}" for k, v in sorted(cpu.items(), key=lambda kv: -kv[1]))
            )
            add("")
    for phase, io in t.io_per_cycle.items():
        add(io_line(t.name, phase, io, t.profile_cpu.get(phase, {})))
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
    return L


def _profile(prof: Profile) -> list[str]:
    L: list[str] = []
    add = L.append
    add(f"### {prof.process}, {prof.phase}")
    add("")
    if prof.error:
        add(f"Profile failed: `{prof.error}`")
        add("")
        return L
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
        add(f"| {fmt_cell(s_)} | {fmt_cell(n_)} |")
    add("")
    if prof.first_party:
        add(
            "relaygraph's own functions (inclusive): "
            + "; ".join(f"`{k}` {v:.0f}%" for k, v in prof.first_party[:12])
        )
        add("")
    return L


def io_line(name: str, phase: str, io: dict[str, float], cpu: dict[str, float]) -> str:
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
