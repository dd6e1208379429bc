"""What the sustained run shows: whether throughput declines, and whether the
stores' memory stays flat once old threads expire."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from serverbench.scenarios import Outcome

GRAPHS_CONFIG = Path(__file__).resolve().parents[2] / "graphs" / "langgraph.json"
STORES = ("valkey-server", "nats-server")


def soak_flatness(o: Outcome) -> tuple[float, float, float]:
    """(first-fifth throughput, last-fifth throughput, last/first)."""
    rates = [r for _, r in o.timeline]
    if len(rates) < 2:
        return float("nan"), float("nan"), float("nan")
    k = max(1, len(rates) // 5)
    first, last = float(np.mean(rates[:k])), float(np.mean(rates[-k:]))
    return first, last, (last / first if first else float("nan"))


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
