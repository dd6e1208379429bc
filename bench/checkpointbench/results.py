"""What a run measured: one row of samples per (benchmark, point, saver), the
Redis counters, and the flatness checks computed from the rows."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

from checkpointbench.config import FLAT_TOLERANCE, Config


@dataclass
class Row:
    bench: str  # "step", "read", "graph-sync", "graph-async"
    point: int | str  # history length, threads stored, or "10 nodes"
    saver: str
    samples_ns: list[int]
    bytes_per_step: float | None = None
    bytes_method: str = ""
    parts: dict[str, list[int]] = field(default_factory=dict)  # components of a sample

    @property
    def n(self) -> int:
        return len(self.samples_ns)

    @property
    def median_us(self) -> float:
        return statistics.median(self.samples_ns) / 1000

    @property
    def p99_us(self) -> float:
        return percentile(self.samples_ns, 99) / 1000

    @property
    def mean_us(self) -> float:
        return statistics.fmean(self.samples_ns) / 1000


@dataclass
class Flatness:
    what: str
    saver: str
    low_label: str
    high_label: str
    low_median_us: float
    high_median_us: float
    high_p99_ratio: float

    @property
    def ratio(self) -> float:
        return self.high_median_us / self.low_median_us

    @property
    def passed(self) -> bool:
        return abs(self.ratio - 1) <= FLAT_TOLERANCE

    def line(self) -> str:
        verdict = "PASS" if self.passed else "FAIL"
        return (
            f"{verdict}: {self.what} ({self.saver}): median {self.high_label} / {self.low_label} = "
            f"{self.high_median_us:.0f} us / {self.low_median_us:.0f} us = {self.ratio:.2f} "
            f"(target 1.00 +/- {FLAT_TOLERANCE:.2f}; p99 ratio {self.high_p99_ratio:.2f})"
        )


@dataclass
class Results:
    config: Config
    rows: list[Row] = field(default_factory=list)
    redis_cmds: dict[str, dict[str, tuple[float, float]]] = field(default_factory=dict)
    redis_memory: dict[str, float] = field(default_factory=dict)
    redis_read_parts: dict[int, dict[str, list[int]]] = field(default_factory=dict)
    load_seconds: dict[str, float] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    started: str = ""
    seconds: float = 0.0

    def row(self, bench: str, point: int | str, saver: str) -> Row:
        for r in self.rows:
            if (r.bench, r.point, r.saver) == (bench, point, saver):
                return r
        raise KeyError((bench, point, saver))

    def points(self, bench: str) -> list[int | str]:
        seen: list[int | str] = []
        for r in self.rows:
            if r.bench == bench and r.point not in seen:
                seen.append(r.point)
        return seen

    def flatness(self) -> list[Flatness]:
        hist, threads = self.config.history, self.config.threads
        out = []
        for bench, low, high, what, unit in (
            ("step", hist[0], hist[-1], "step cost", "steps"),
            ("read", threads[0], threads[-1], "read latency", "threads"),
        ):
            lo, hi = (
                self.row(bench, low, "AsyncRedisSaver"),
                self.row(bench, high, "AsyncRedisSaver"),
            )
            out.append(
                Flatness(
                    what=f"{what} at {fmt_count(high)} vs {fmt_count(low)} {unit}",
                    saver="AsyncRedisSaver",
                    low_label=fmt_count(low),
                    high_label=fmt_count(high),
                    low_median_us=lo.median_us,
                    high_median_us=hi.median_us,
                    high_p99_ratio=hi.p99_us / lo.p99_us,
                )
            )
        return out


def percentile(samples: Sequence[int], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(samples)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return float(ordered[rank - 1])


def fmt_count(n: int | str) -> str:
    if isinstance(n, str):
        return n
    if n >= 1000 and n % 1000 == 0:
        return f"{n // 1000}k"
    return str(n)
