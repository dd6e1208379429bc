"""The results as markdown (server.md), JSON (server.json) and PNG plots.

numbers: shared formatting and percentiles; soak: the sustained run's checks;
verdicts: our targets judged; summary: the JSON; markdown (and its md_*
sections): server.md; plots: the PNGs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from serverbench.report.markdown import markdown
from serverbench.report.numbers import COLORS, LABELS, OURS, PEER, ms, pct
from serverbench.report.plots import plots
from serverbench.report.soak import retention, retention_mark, soak_flatness
from serverbench.report.summary import dump_json, summary
from serverbench.report.verdicts import evaluate

if TYPE_CHECKING:
    from serverbench.results import Results


def write_report(results: Results, out: Path) -> None:
    (out / "server.json").write_text(json.dumps(dump_json(results), indent=1, default=str) + "\n")
    (out / "server.md").write_text(markdown(results))
    plots(results, out)


__all__ = [
    "COLORS",
    "LABELS",
    "OURS",
    "PEER",
    "dump_json",
    "evaluate",
    "markdown",
    "ms",
    "pct",
    "plots",
    "retention",
    "retention_mark",
    "soak_flatness",
    "summary",
    "write_report",
]
