"""The PNG plots: latency CDFs, throughput and memory over the sustained run,
scale-out, and every process's memory."""

# ruff: noqa: RUF001

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from serverbench.report.numbers import COLORS, PEER

if TYPE_CHECKING:
    from serverbench.results import Results, TargetResult

LATENCY_PANELS = [
    ("interrupt-sdk", "interrupt cycle, SDK"),
    ("interrupt-raw", "interrupt cycle, raw HTTP"),
    ("stateless-sdk", "stateless /runs/wait, SDK"),
    ("stream-ttfe", "stream: time to first event, SDK"),
]


def plots(results: Results, out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    made = [
        _latency(plt, results, out / "server_latency.png"),
        _throughput(plt, results, out / "server_throughput.png"),
    ]
    if any(t.scaleout for t in results.targets.values()):
        made.append(_scaleout(plt, results, out / "server_scaleout.png"))
    memory = _memory(plt, results, out / "server_memory.png")
    if memory:
        made.append(memory)
    return made


def _save(plt: Any, fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _latency(plt: Any, results: Results, path: Path) -> Path:
    """Latency CDFs, one panel per sequential scenario."""
    fig, axes = plt.subplots(2, 2, figsize=(12, 8.5))
    for ax, (sid, title) in zip(axes.flat, LATENCY_PANELS, strict=True):
        for t in results.targets.values():
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
    return _save(plt, fig, path)


def _throughput(plt: Any, results: Results, path: Path) -> Path:
    """Throughput over time (sustained run, else the N-client run), and each
    process's RSS during the sustained run."""
    T = results.targets
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
    return _save(plt, fig, path)


def _scaleout(plt: Any, results: Results, path: Path) -> Path:
    """Runs/s against executors, with linear and 0.9 times linear from 1 executor."""
    T = results.targets
    scal = [t for t in T.values() if t.scaleout]
    peer = T.get(PEER)
    fig, ax = plt.subplots(figsize=(9, 6))
    for t in scal:
        _scaleout_series(ax, t)
    if peer and "io" in peer.outcomes:
        ax.axhline(
            peer.outcomes["io"].throughput,
            color=COLORS[PEER],
            ls="-.",
            label="langgraph dev (1 process)",
        )
    ax.set_xlabel("executor processes")
    ax.set_ylabel("runs / s")
    ax.set_xticks(sorted({n for t in scal for series in t.scaleout.values() for n, _ in series}))
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    ax.legend()
    ax.set_title(
        f"Scale-out: I/O-bound graph (2 × 50 ms sleep), {results.config.scaleout_concurrency} clients"
    )
    return _save(plt, fig, path)


def _scaleout_series(ax: Any, t: TargetResult) -> None:
    markers = ["o", "s", "^", "D"]
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
            ax.annotate(f"{y:.0f}", (n, y), textcoords="offset points", xytext=(0, 8), ha="center")
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


def _memory(plt: Any, results: Results, path: Path) -> Path | None:
    """Every process's RSS at idle and after the load; None when nothing was read."""
    rows = []
    for t in results.targets.values():
        for k in dict.fromkeys([*t.rss_idle, *t.rss_after]):
            rows.append((f"{t.name}\n{k}", t.rss_idle.get(k, 0), t.rss_after.get(k, 0), t.key))
    if not rows:
        return None
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
    return _save(plt, fig, path)
