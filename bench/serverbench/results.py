"""What a run collects: per target, each scenario's outcome, the scale-out
series, memory, profiles and server-side counters."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from serverbench import scenarios as sc
from serverbench.config import Config
from serverbench.profile import Profile


@dataclass
class TargetResult:
    key: str
    name: str
    outcomes: dict[str, sc.Outcome] = field(default_factory=dict)
    scaleout: dict[str, list[tuple[int, sc.Outcome]]] = field(default_factory=dict)
    rss_idle: dict[str, float] = field(default_factory=dict)
    rss_after: dict[str, float] = field(default_factory=dict)
    profiles: list[Profile] = field(default_factory=list)
    profile_cpu: dict[str, dict[str, float]] = field(default_factory=dict)
    # phase -> Redis command -> (calls per cycle, Valkey µs per cycle)
    redis_per_cycle: dict[str, dict[str, tuple[float, float]]] = field(default_factory=dict)
    # phase -> counter (Redis bytes in/out, NATS messages/bytes in/out) per cycle
    io_per_cycle: dict[str, dict[str, float]] = field(default_factory=dict)
    log_problems: list[tuple[int, str]] = field(default_factory=list)
    failed: str = ""

    @property
    def errors(self) -> int:
        return sum(o.errors for o in self.outcomes.values()) + sum(
            o.errors for series in self.scaleout.values() for _, o in series
        )


@dataclass
class Results:
    config: Config
    meta: dict[str, Any]
    targets: dict[str, TargetResult] = field(default_factory=dict)

    def rows(self) -> list[dict[str, Any]]:
        """One row per (target, scenario): what the smoke test checks."""
        out = []
        for t in self.targets.values():
            for sid, o in t.outcomes.items():
                out.append(
                    {"target": t.key, "scenario": sid, "n": len(o.latencies), "errors": o.errors}
                )
            for i, (label, series) in enumerate(t.scaleout.items()):
                for n, o in series:
                    sid = f"io-{n}x" + (f" ({label})" if i else "")
                    out.append(
                        {
                            "target": t.key,
                            "scenario": sid,
                            "n": len(o.latencies),
                            "errors": o.errors,
                        }
                    )
        return out
