"""server.md, last sections: the targets judged, the errors, and the plots."""

# ruff: noqa: RUF001

from __future__ import annotations

from typing import TYPE_CHECKING

from serverbench.report.verdicts import evaluate

if TYPE_CHECKING:
    from serverbench.results import Results


def targets(results: Results) -> list[str]:
    verdicts = evaluate(results)
    if not verdicts:
        return []
    L: list[str] = []
    add = L.append
    add("## Targets")
    add("")
    add("| target | criterion | measured | verdict |")
    add("|---|---|---|---|")
    for name, crit, measured, verdict in verdicts:
        v = f"**{verdict}**" if verdict == "NOT MET" else verdict
        add(f"| {name} | {crit} | {measured} | {v} |")
    add("")
    return L


def errors(results: Results) -> list[str]:
    T = results.targets
    failed = [(t, sid, o) for t in T.values() for sid, o in t.outcomes.items() if o.errors]
    failed += [
        (t, f"io-{n}x ({label})", o)
        for t in T.values()
        for label, series in t.scaleout.items()
        for n, o in series
        if o.errors
    ]
    L: list[str] = []
    add = L.append
    add("## Errors")
    add("")
    if not failed:
        add("None: every answer was checked and right.")
    noisy = [t for t in T.values() if t.log_problems]
    if failed and noisy:
        add("")
        add("The most frequent warnings and errors in the servers' logs (ids blanked):")
        add("")
        for t in noisy:
            for n, line in t.log_problems:
                add(f"- {t.name}: {n}× `{line}`")
        add("")
    for t, sid, o in failed:
        add(
            f"- {t.name}, {sid}: {o.errors} error(s); first: "
            + "; ".join(f"`{e}`" for e in o.error_examples[:3])
        )
    add("")
    return L


def plots_note(results: Results) -> list[str]:
    return [
        "Plots: `server_latency.png`, `server_throughput.png`, `server_scaleout.png`, `server_memory.png`.",
        "",
    ]
