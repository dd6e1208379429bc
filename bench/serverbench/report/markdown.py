"""server.md: its sections, in order, each written by its own function."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from serverbench.report import (
    md_capacity,
    md_intro,
    md_latency,
    md_outcome,
    md_profiles,
    md_throughput,
)

if TYPE_CHECKING:
    from serverbench.results import Results

SECTIONS: tuple[Callable[[Results], list[str]], ...] = (
    md_intro.intro,
    md_intro.machine,
    md_intro.failures,
    md_latency.latency,
    md_latency.official_queue_note,
    md_latency.cycle_steps,
    md_throughput.throughput,
    md_throughput.cpu,
    md_capacity.scaleout,
    md_capacity.memory,
    md_outcome.targets,
    md_profiles.profiles,
    md_outcome.errors,
    md_outcome.plots_note,
)


def markdown(results: Results) -> str:
    lines: list[str] = []
    for section in SECTIONS:
        lines += section(results)
    return "\n".join(lines)
