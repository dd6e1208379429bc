"""What the benchmark reads about processes, from /proc (Linux): resident memory,
CPU time, the process tree, and a role name for each process."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float | None:
    """Resident set size in MiB (VmRSS), or None when the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds the process used so far."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def _ppid(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return int(stat[stat.rindex(")") + 2 :].split()[1])


def descendants(root: int) -> list[int]:
    """``root`` and every process below it."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            parent = _ppid(int(entry))
            if parent is not None:
                children.setdefault(parent, []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def role(pid: int) -> str:
    """A short name for what the process is."""
    args = cmdline(pid)
    joined = " ".join(args)
    exe = Path(args[0]).name if args else "?"
    if exe.startswith("nats-server"):
        return "nats-server"
    if "valkey-server" in exe or "redis-server" in exe:
        return "valkey-server"
    for service in ("gateway", "executor", "reviewer"):
        if "relaygraph.cli" in joined and service in args:
            return service
    if "relaygraph" in joined and "dev" in args:
        return "relaygraph dev (supervisor)"
    if "langgraph" in joined and "dev" in args:
        return "langgraph dev"
    return exe


@dataclass
class Proc:
    name: str
    pid: int

    def rss(self) -> float | None:
        return rss_mb(self.pid)

    def cpu(self) -> float | None:
        return cpu_seconds(self.pid)


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent busy since boot (/proc/stat: all but idle and iowait)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    ticks = [int(x) for x in fields[:8]]
    return (sum(ticks) - ticks[3] - ticks[4]) / _TICKS


def snapshot_rss(procs: list[Proc]) -> dict[str, float]:
    out = {}
    for p in procs:
        value = p.rss()
        if value is not None:
            out[p.name] = value
    return out


def snapshot_cpu(procs: list[Proc]) -> dict[str, float]:
    out = {}
    for p in procs:
        value = p.cpu()
        if value is not None:
            out[p.name] = value
    out["bench client"] = sum(os.times()[:2])
    return out
