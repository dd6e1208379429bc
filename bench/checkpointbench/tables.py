"""The tables of checkpoint.md (the main one is also printed at the end of a run)."""

from __future__ import annotations

import statistics

from checkpointbench.config import SAVERS, SHORT
from checkpointbench.results import Results, fmt_count, percentile

BENCH_TITLES = {
    "step": ("superstep write (aput_writes + aput)", "history"),
    "read": ("aget_tuple(thread_id) latest", "threads stored"),
    "graph-sync": ("10-node graph ainvoke, durability=sync", ""),
    "graph-async": ("10-node graph ainvoke, durability=async", ""),
}


def fmt_time(us: float) -> str:
    if us >= 10_000:
        return f"{us / 1000:.1f} ms"
    if us >= 1000:
        return f"{us / 1000:.2f} ms"
    return f"{us:.0f} µs"


def fmt_bytes(b: float | None) -> str:
    if b is None:
        return "-"
    return f"{b:,.0f}"


def main_table(res: Results) -> list[str]:
    lines = [
        "| benchmark | point | n | InMemory median / p99 | SQLite median / p99 | Redis median / p99 "
        "| Redis ÷ InMemory (median / p99) | Redis ÷ SQLite (median / p99) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for bench in ("step", "read", "graph-sync", "graph-async"):
        title, unit = BENCH_TITLES[bench]
        for point in res.points(bench):
            rows = {s: res.row(bench, point, s) for s in SAVERS}
            redis_row = rows["AsyncRedisSaver"]
            cells = [f"{fmt_time(rows[s].median_us)} / {fmt_time(rows[s].p99_us)}" for s in SAVERS]
            ratios = [
                f"{redis_row.median_us / rows[s].median_us:.2f} / {redis_row.p99_us / rows[s].p99_us:.2f}"
                for s in ("InMemorySaver", "AsyncSqliteSaver")
            ]
            label = f"{fmt_count(point)} {unit}".strip()
            lines.append(
                f"| {title} | {label} | {redis_row.n} | " + " | ".join(cells + ratios) + " |"
            )
    return lines


def bytes_table(res: Results) -> list[str]:
    lines = [
        "| history | InMemory: payload held | SQLite: db file growth | Redis: bytes sent (net input) "
        "| Redis: used_memory growth |",
        "|---|---|---|---|---|",
    ]
    for point in res.points("step"):
        rows = {s: res.row("step", point, s) for s in SAVERS}
        mem = res.redis_memory.get(f"history {point}")
        lines.append(
            f"| {fmt_count(point)} | "
            + " | ".join(fmt_bytes(rows[s].bytes_per_step) for s in SAVERS)
            + f" | {fmt_bytes(mem)} |"
        )
    return lines


def parts_table(res: Results) -> list[str]:
    lines = [
        "| history | "
        + " | ".join(f"{SHORT[s]}: aput_writes / aput (median)" for s in SAVERS)
        + " |",
        "|---|" + "---|" * len(SAVERS),
    ]
    for point in res.points("step"):
        cells = []
        for s in SAVERS:
            parts = res.row("step", point, s).parts
            w, p = (statistics.median(parts[k]) / 1000 for k in ("aput_writes", "aput"))
            cells.append(f"{fmt_time(w)} / {fmt_time(p)}")
        lines.append(f"| {fmt_count(point)} | " + " | ".join(cells) + " |")
    return lines


def read_parts_table(res: Results) -> list[str]:
    lines = ["| threads stored | operation | median | p99 |", "|---|---|---|---|"]
    for n, parts in res.redis_read_parts.items():
        for part, ns in parts.items():
            lines.append(
                f"| {fmt_count(n)} | {part} | {fmt_time(statistics.median(ns) / 1000)} "
                f"| {fmt_time(percentile(ns, 99) / 1000)} |"
            )
    return lines


def cmds_table(res: Results) -> list[str]:
    lines = [
        "| operation | commands per operation | server time per operation (EVALSHA usec) |",
        "|---|---|---|",
    ]
    for op, cmds in res.redis_cmds.items():
        desc = ", ".join(f"{c} {calls:g}" for c, (calls, _) in cmds.items())
        server = sum(usec for c, (_, usec) in cmds.items() if c in ("evalsha", "eval"))
        lines.append(f"| {op} | {desc} | {server:.1f} µs |")
    return lines
