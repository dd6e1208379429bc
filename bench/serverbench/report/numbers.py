"""Shared by the report's parts: which target is which, percentiles, and how
numbers are written in the tables."""

# ruff: noqa: RUF001

from __future__ import annotations

from typing import Any

import numpy as np

from serverbench.scenarios import Outcome

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


def fnum(x: float | None, digits: int = 1) -> str:
    if x is None or x != x:
        return "-"
    return f"{x:,.{digits}f}"


def ratio_faster(ours: float, peer: float) -> str:
    """Latency: how many times lower ours is."""
    if not ours or not peer or ours != ours or peer != peer:
        return "-"
    return f"{peer / ours:.1f}× lower"


def ratio_more(ours: float, peer: float) -> str:
    if not ours or not peer:
        return "-"
    return f"{ours / peer:.1f}×"


def fmt_cores(o: Outcome) -> str:
    """CPU s/s of the target + client, and of everything else on the machine."""
    if not o.machine_cores:
        return "-"
    return f"{o.ours_cores:.2f} + {max(0.0, o.machine_cores - o.ours_cores):.2f}"


def fmt_cell(item: tuple[str, float] | None) -> str:
    return " | " if item is None else f"{item[1]:.1f}% | `{item[0]}`"


def fmt_load(la: Any) -> str:
    return "-" if not la else " ".join(f"{x:.2f}" for x in la)
