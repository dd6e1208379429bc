"""Checkpointer benchmark: relaygraph's AsyncRedisSaver against langgraph's
InMemorySaver and AsyncSqliteSaver, side by side in one run on this machine.

    uv run python bench/checkpoint_bench.py            # full run, ~10 min on 2 cores
    uv run python bench/checkpoint_bench.py --quick    # ~1 min, smaller counts

What it measures (see bench/README.md, section "Checkpointer"):

1. one superstep's write (``aput_writes`` of the task that ran, then ``aput`` of
   the next checkpoint) on a thread that already holds 1, 100 or 1000
   checkpoints, and the bytes one step writes;
2. ``aget_tuple`` with only ``thread_id`` (the newest checkpoint and its pending
   writes) with 1k and 100k threads stored (10k in ``--quick``);
3. a 10-node linear StateGraph run end to end (``ainvoke``) through each saver.

Every measurement is a single ``await`` timed with ``time.perf_counter_ns``.
The savers (and the points of a benchmark) are measured in interleaved rounds,
in a shuffled order per round, so drift on the machine hits them alike; the
first rounds are warm-up and are discarded.

The full run writes ``bench/results/checkpoint.md`` and
``bench/results/checkpoint_*.png``; text under the ``<!-- analysis -->`` line of
an existing checkpoint.md is kept. ``--quick`` writes to a temporary directory
unless ``--out`` is given.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

# The benchmark's modules live next to this file, in bench/checkpointbench/.
_BENCH = str(Path(__file__).resolve().parent)
sys.path.insert(0, _BENCH)
try:
    from checkpointbench.backends import Backend, MemoryBackend, RedisBackend, SqliteBackend
    from checkpointbench.config import CONFIGS, FLAT_TOLERANCE, FULL, QUICK, SAVERS, SMOKE, Config
    from checkpointbench.report import ANALYSIS_MARKER, write_report
    from checkpointbench.results import Flatness, Results, Row
    from checkpointbench.runner import run
    from checkpointbench.tables import main_table
finally:
    sys.path.remove(_BENCH)

RESULTS = Path(__file__).resolve().parent / "results"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="~1 minute, smaller counts")
    parser.add_argument(
        "--config", choices=sorted(CONFIGS), help="preset (default: full, or quick with --quick)"
    )
    parser.add_argument("--out", type=Path, help="where to write checkpoint.md and the plots")
    args = parser.parse_args(argv)
    cfg = CONFIGS[args.config] if args.config else (QUICK if args.quick else FULL)
    out = args.out
    if out is None:
        out = (
            RESULTS
            if cfg.name == "full"
            else Path(tempfile.gettempdir()) / f"rg-cpbench-{cfg.name}"
        )
    res = asyncio.run(run(cfg, out))
    print()
    print("\n".join(main_table(res)))
    print()
    for f in res.flatness():
        print(f.line())
    return 0


__all__ = [
    "ANALYSIS_MARKER",
    "CONFIGS",
    "FLAT_TOLERANCE",
    "FULL",
    "QUICK",
    "RESULTS",
    "SAVERS",
    "SMOKE",
    "Backend",
    "Config",
    "Flatness",
    "MemoryBackend",
    "RedisBackend",
    "Results",
    "Row",
    "SqliteBackend",
    "main",
    "main_table",
    "run",
    "write_report",
]


if __name__ == "__main__":
    sys.exit(main())
