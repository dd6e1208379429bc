"""What one run of the checkpointer benchmark does: the presets (full, quick,
smoke) and the savers compared."""

from __future__ import annotations

from dataclasses import dataclass

SAVERS = ("InMemorySaver", "AsyncSqliteSaver", "AsyncRedisSaver")
SHORT = {"InMemorySaver": "InMemory", "AsyncSqliteSaver": "SQLite", "AsyncRedisSaver": "Redis"}
FLAT_TOLERANCE = 0.20  # "flat within 20 %": |ratio - 1| <= 0.20


@dataclass(frozen=True)
class Config:
    name: str
    history: tuple[int, ...] = (1, 100, 1000)
    step_samples: int = 1000
    step_warmup: int = 50
    bytes_steps: int = 100
    threads: tuple[int, int] = (1_000, 100_000)
    read_samples: int = 3000
    read_warmup: int = 200
    graph_reps: int = 300
    graph_warmup: int = 20
    load_concurrency: int = 64
    block: int = 10  # rounds a saver runs before the next one takes its turn


FULL = Config("full")
QUICK = Config(
    "quick",
    step_samples=200,
    step_warmup=20,
    bytes_steps=50,
    threads=(1_000, 10_000),
    read_samples=500,
    read_warmup=50,
    graph_reps=60,
    graph_warmup=5,
)
# The harness's own test (tests/checkpoint/test_bench_smoke.py): seconds, not numbers.
SMOKE = Config(
    "smoke",
    history=(1, 3, 10),
    step_samples=4,
    step_warmup=1,
    bytes_steps=3,
    threads=(5, 20),
    read_samples=4,
    read_warmup=1,
    graph_reps=2,
    graph_warmup=1,
    load_concurrency=4,
    block=2,
)
CONFIGS = {c.name: c for c in (FULL, QUICK, SMOKE)}
