"""What one run of the server benchmark does: the presets (full, quick, smoke)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Config:
    mode: str
    targets: tuple[str, ...] = ("relaygraph-dev", "relaygraph-split", "official")
    seq_cycles: int = 200
    seq_warmup: int = 20
    stateless_runs: int = 200
    stream_runs: int = 30
    stream_events: int = 200
    concurrency: int = 32
    tp_duration: float = 15.0
    tp_warmup: float = 2.0
    soak_duration: float = 300.0
    soak_bin: float = 10.0
    soak_targets: tuple[str, ...] = ("relaygraph-dev", "official")
    scaleout: tuple[int, ...] = (1, 2, 4)
    scaleout_concurrency: int = 64
    scaleout_duration: float = 15.0
    # (label, extra environment) of each scale-out series; the first is the one judged
    scaleout_variants: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
        ("default settings", ()),
        ("2 runs per executor", (("RELAYGRAPH_MAX_CONCURRENT_RUNS", "2"),)),
    )
    seq_max_seconds: float = 60.0  # a sequential scenario stops after this long
    profile_duration: int = 15  # seconds per phase; 0: no profiles
    profile_targets: tuple[str, ...] = ("relaygraph-split",)
    warm_rounds: int = 3
    quiet_wait: float = 300.0  # wait up to this long for the machine to be idle before a target
    settle: float = 2.0  # seconds of quiet before each RSS reading


FULL = Config("full")
QUICK = Config(
    "quick",
    seq_cycles=50,
    seq_warmup=10,
    stateless_runs=50,
    stream_runs=10,
    tp_duration=5.0,
    tp_warmup=1.0,
    soak_duration=30.0,
    soak_bin=2.0,
    soak_targets=("relaygraph-dev",),
    scaleout_duration=5.0,
    scaleout_variants=(("default settings", ()),),
    seq_max_seconds=8.0,
    profile_duration=0,
)
SMOKE = Config(
    "smoke",
    targets=("relaygraph-split",),
    seq_cycles=5,
    seq_warmup=1,
    stateless_runs=5,
    stream_runs=2,
    stream_events=50,
    concurrency=4,
    tp_duration=1.0,
    tp_warmup=0.5,
    soak_duration=0.0,
    soak_targets=(),
    scaleout=(1, 2),
    scaleout_concurrency=8,
    scaleout_duration=1.0,
    scaleout_variants=(("default settings", ()),),
    seq_max_seconds=10.0,
    profile_duration=0,
    warm_rounds=1,
    settle=0.3,
    quiet_wait=0.0,
)
PRESETS = {c.mode: c for c in (FULL, QUICK, SMOKE)}
