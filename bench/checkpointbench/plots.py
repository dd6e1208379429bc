"""The PNG plots of checkpoint.md: step latency against history length, read
latency against threads stored, one line per saver (median and p99)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from checkpointbench.config import FLAT_TOLERANCE, SAVERS
from checkpointbench.results import Results, fmt_count

COLORS = {
    "InMemorySaver": "#4c72b0",
    "AsyncSqliteSaver": "#dd8452",
    "AsyncRedisSaver": "#c44e52",
}
# (benchmark, file, x label, title)
FIGURES = (
    (
        "step",
        "checkpoint_step_latency.png",
        "checkpoints already in the thread (history length)",
        "Superstep write latency (aput_writes + aput) vs history length",
    ),
    (
        "read",
        "checkpoint_read_latency.png",
        "threads stored",
        "Latest-checkpoint read latency (aget_tuple) vs threads stored",
    ),
)


def write_plots(res: Results, out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    for bench, fname, xlabel, title in FIGURES:
        fig, ax = plt.subplots(figsize=(8, 5.6), dpi=110)
        _draw(ax, res, bench)
        _decorate(ax, res, xlabel, title)
        fig.tight_layout()
        path = out / fname
        fig.savefig(path)
        plt.close(fig)
        paths.append(path)
    return paths


def _draw(ax: Any, res: Results, bench: str) -> None:
    """Median and p99 of each saver, and the Redis target band."""
    points = [p for p in res.points(bench) if isinstance(p, int)]
    for saver in SAVERS:
        rows = [res.row(bench, p, saver) for p in points]
        ax.plot(
            points, [r.median_us for r in rows], "o-", color=COLORS[saver],
            label=f"{saver} median", linewidth=2,
        )  # fmt: skip
        ax.plot(
            points, [r.p99_us for r in rows], "s--", color=COLORS[saver],
            label=f"{saver} p99", alpha=0.6,
        )  # fmt: skip
    lo = res.row(bench, points[0], "AsyncRedisSaver").median_us
    ax.axhspan(
        lo * (1 - FLAT_TOLERANCE), lo * (1 + FLAT_TOLERANCE), color=COLORS["AsyncRedisSaver"],
        alpha=0.10, label="Redis target: median within 20 % of the first point",
    )  # fmt: skip
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(points)
    ax.set_xticklabels([fmt_count(p) for p in points])


def _decorate(ax: Any, res: Results, xlabel: str, title: str) -> None:
    from matplotlib.ticker import FuncFormatter, LogLocator

    ax.minorticks_off()
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
    ax.set_xlabel(xlabel)
    ax.set_ylabel("latency per operation (µs, log scale)")
    run_label = "" if res.config.name == "full" else f" [{res.config.name} run]"
    ax.set_title(title + run_label, fontsize=11)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.14))
