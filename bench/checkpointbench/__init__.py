"""The checkpointer benchmark behind bench/checkpoint_bench.py (its entry point).

config: presets and savers; results: rows and flatness checks; chain: a thread
written like a Pregel loop; backends: the savers; rounds: interleaved sampling;
steps, reads, graph: the three benchmarks; runner: a whole run; report, tables,
plots: checkpoint.md and its PNGs."""
