"""One-line progress messages while the benchmark runs."""

from __future__ import annotations

from collections.abc import Callable

from serverbench import scenarios as sc

Log = Callable[[str], None]


def traceback_tail() -> str:
    import traceback

    return traceback.format_exc()[-3000:]


def fmt_rss(rss: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.0f}" for k, v in rss.items())


def brief(o: sc.Outcome) -> str:
    from serverbench.report import pct

    parts = [f"n={len(o.latencies)}", f"errors={o.errors}"]
    if o.latencies:
        parts.append(
            f"p50={pct(o.latencies, 50) * 1000:.1f}ms p99={pct(o.latencies, 99) * 1000:.1f}ms"
        )
    if o.throughput:
        parts.append(f"{o.throughput:.1f}/s")
    if o.error_examples:
        parts.append(f"first error: {o.error_examples[0][:200]}")
    return " ".join(parts)
