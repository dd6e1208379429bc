"""server.md, first sections: what was compared, on which machine, and which
targets failed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from serverbench.report.numbers import fmt_load

if TYPE_CHECKING:
    from serverbench.results import Results


def intro(results: Results) -> list[str]:
    L: list[str] = []
    add = L.append
    add("# relaygraph vs the official LangGraph dev server")
    add("")
    add(
        "Written by `bench/run.py` (`make bench`; `make bench-quick` for a short run). The same "
        "graphs (`bench/graphs/langgraph.json`) and the same official `langgraph_sdk` client "
        "against each target, one target at a time, on this machine. Every answer is checked "
        "(a wrong answer counts as an error). Latencies in ms."
    )
    add("")
    add("Targets:")
    add("")
    add(
        "- **relaygraph dev**: `relaygraph dev --port P --config …` (embedded nats-server and "
        "Valkey, one executor, the reviewer, all as it starts them)."
    )
    add(
        "- **relaygraph split**: nats-server, Valkey, one gateway and N executors as separate "
        "processes (`relaygraph gateway` / `relaygraph executor`)."
    )
    add(
        "- **langgraph dev**: the official server, `langgraph dev --host 127.0.0.1 --port P "
        "--no-browser --no-reload --allow-blocking --n-jobs-per-worker 10 --config langgraph.json` "
        "(`langgraph-cli[inmem]`, pinned in `bench/official-requirements.txt`, in its own venv; "
        "tracing and analytics off)."
    )
    add("")
    return L


def machine(results: Results) -> list[str]:
    meta = results.meta
    L: list[str] = []
    add = L.append
    add("## Machine")
    add("")
    add("| | |")
    add("|---|---|")
    add(f"| date | {meta['date']} |")
    add(f"| mode | {meta['mode']} |")
    add(f"| CPU | {meta['cpu']}, nproc = {meta['nproc']} |")
    add(f"| memory | {meta['memory_gib']} GiB |")
    add(f"| kernel / python | {meta['kernel']} / {meta['python']} |")
    la0, la1 = meta.get("loadavg_at_start"), meta.get("loadavg_at_end")
    add(f"| load average at start / end | {fmt_load(la0)} / {fmt_load(la1)} |")
    before = meta.get("other_load_before")
    if before:
        add(
            "| other load before each target (cores) | "
            + ", ".join(f"{k} {v:.2f}" for k, v in before.items())
            + " |"
        )
    rs = meta["relaygraph_side"]
    add(f"| relaygraph | {rs.get('relaygraph')} (git {meta.get('git')}) |")
    add(
        "| relaygraph side | "
        + ", ".join(f"{k} {v}" for k, v in rs.items() if k != "relaygraph")
        + " |"
    )
    if "official_side" in meta:
        add(
            "| official side | "
            + ", ".join(f"{k} {v}" for k, v in meta["official_side"].items())
            + " |"
        )
    add("")
    add(
        "The benchmark client (one asyncio process) runs on the same cores as the servers; "
        "its CPU time per operation is in the CPU table below."
    )
    add("")
    return L


def failures(results: Results) -> list[str]:
    L: list[str] = []
    add = L.append
    failed = [t for t in results.targets.values() if t.failed]
    for t in failed:
        add(f"**{t.name} failed:**")
        add("")
        add("```text")
        add(t.failed.strip())
        add("```")
        add("")
    return L
