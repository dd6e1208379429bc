"""What the report says about the machine and the software on each side."""

from __future__ import annotations

import importlib.metadata as md
import os
import platform
import subprocess
import time
from pathlib import Path
from typing import Any

from serverbench.config import Config
from serverbench.targets import BENCH

# The relaygraph side's Python packages whose versions the report lists.
OUR_PACKAGES = (
    "relaygraph",
    "langgraph",
    "langgraph-checkpoint",
    "langgraph-sdk",
    "faststream",
    "nats-py",
    "redis",
    "fastapi",
    "uvicorn",
)


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "?"


def _mem_kb() -> int:
    mem_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kb = int(line.split()[1])
    return mem_kb


def _version(name: str) -> str:
    try:
        return md.version(name)
    except md.PackageNotFoundError:
        return "-"


def _run(args: list[str]) -> str:
    try:
        return subprocess.check_output(args, text=True, stderr=subprocess.STDOUT).strip()
    except Exception as exc:  # pragma: no cover - informative only
        return f"? ({exc})"


def relaygraph_side() -> dict[str, str]:
    """Versions of our packages and of the nats-server and valkey-server binaries."""
    from relaygraph_dev.servers import nats_server_binary, valkey_server_binary

    ours = {n: _version(n) for n in OUR_PACKAGES}
    ours["nats-server"] = _run([nats_server_binary(), "--version"]).split()[-1]
    valkey = _run([valkey_server_binary(), "--version"])
    ours["valkey-server"] = next(
        (w.split("=")[1] for w in valkey.split() if w.startswith("v=")), valkey
    )
    return ours


def machine_meta(cfg: Config, official: bool) -> dict[str, Any]:
    cpu = _cpu_model()
    mem_kb = _mem_kb()
    ours = relaygraph_side()
    meta: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "mode": cfg.mode,
        "nproc": os.cpu_count(),
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "cpu": cpu,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "loadavg_at_start": os.getloadavg(),
        "relaygraph_side": ours,
        "git": _run(["git", "-C", str(BENCH.parent), "rev-parse", "--short", "HEAD"]),
    }
    if official:
        from serverbench.targets import official_versions

        meta["official_side"] = official_versions()
    return meta
