"""The results as JSON (server.json)."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from serverbench.report.numbers import ms, pct
from serverbench.scenarios import Outcome

if TYPE_CHECKING:
    from serverbench.results import Results, TargetResult


def dump_json(results: Results) -> dict[str, Any]:
    return {
        "config": dataclasses.asdict(results.config),
        "meta": results.meta,
        "targets": {k: summary(t) for k, t in results.targets.items()},
    }


def summary(t: TargetResult) -> dict[str, Any]:
    return {
        "name": t.name,
        "failed": t.failed,
        "rss_idle_mib": t.rss_idle,
        "rss_after_mib": t.rss_after,
        "scenarios": {k: outcome_summary(o) for k, o in t.outcomes.items()},
        "scaleout": {
            label: [{"executors": n, **outcome_summary(o)} for n, o in series]
            for label, series in t.scaleout.items()
        },
        "profile_cpu_ms_per_cycle": t.profile_cpu,
        "redis_commands_per_cycle": t.redis_per_cycle,
        "io_per_cycle": t.io_per_cycle,
        "profiles": [p.__dict__ for p in t.profiles],
        "log_problems": t.log_problems,
    }


def outcome_summary(o: Outcome) -> dict[str, Any]:
    d: dict[str, Any] = {
        "n": len(o.latencies),
        "errors": o.errors,
        "error_examples": o.error_examples,
        "p50_ms": ms(o.latencies, 50),
        "p90_ms": ms(o.latencies, 90),
        "p99_ms": ms(o.latencies, 99),
        "cpu_ms_per_op": o.cpu_ms_per_op,
        "steps_p50_ms": {k: ms(v, 50) for k, v in o.steps.items() if k != "events/s"},
    }
    if "events/s" in o.steps:
        d["events_per_s_p50"] = pct(o.steps["events/s"], 50)
    if o.duration:
        d.update(
            concurrency=o.concurrency,
            duration_s=o.duration,
            throughput=o.throughput,
            timeline=o.timeline,
            ours_cores=o.ours_cores,
            machine_cores=o.machine_cores,
        )
    if o.rss_timeline:
        d["rss_timeline"] = o.rss_timeline
    if len(o.latencies) <= 2000:
        d["latencies_ms"] = [round(x * 1000, 3) for x in o.latencies]
    return d
