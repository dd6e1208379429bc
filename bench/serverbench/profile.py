"""Sampling profiles of running services with py-spy (``py-spy record --format
raw``), boiled down to where the CPU time goes: by package, by function (self)
and by function (inclusive)."""

from __future__ import annotations

import gzip
import re
import shutil
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from serverbench.procs import Proc

RATE = 200  # samples per second and thread
_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")
# Leaf frames of a thread that waits (py-spy's own idle detection does not see
# these here, so it records every sample with --idle and they are sorted out here).
IDLE_LEAVES = {
    "_worker (concurrent/futures/thread.py)",  # a pool thread waiting for work
    "Condition.wait (threading.py)",
    "Event.wait (threading.py)",
    "Thread._wait_for_tstate_lock (threading.py)",
    "Thread.join (threading.py)",
    "EpollSelector.select (selectors.py)",  # the asyncio loop waiting for I/O
    "select (selectors.py)",
    "Runner.run (asyncio/runners.py)",  # uvloop's loop (C) waiting for I/O, or in C code
}
# Frames every stack has: not an answer to "where does the time go".
_BOILERPLATE = (
    "run (asyncio/runners.py)",
    "Runner.run (asyncio/runners.py)",
    "BaseEventLoop.run_until_complete (asyncio/base_events.py)",
    "BaseEventLoop.run_forever (asyncio/base_events.py)",
    "BaseEventLoop._run_once (asyncio/base_events.py)",
    "Handle._run (asyncio/events.py)",
    "main (relaygraph/cli.py)",
    "_run (relaygraph_gateway/command.py)",
    "_run (relaygraph_executor/command.py)",
    "_run_module_as_main (<frozen runpy>)",
    "_run_code (<frozen runpy>)",
    "run (relaygraph_gateway/app.py)",
    "run (relaygraph_executor/app.py)",
    "run_until_signal (relaygraph/process.py)",
    "run (uvicorn/main.py)",
    "Server.run (uvicorn/server.py)",
    "asyncio_run (uvicorn/_compat.py)",
    "Thread._bootstrap (threading.py)",
    "Thread._bootstrap_inner (threading.py)",
    "Thread.run (threading.py)",
)
_FIRST_PARTY = (
    "relaygraph/",
    "relaygraph_gateway/",
    "relaygraph_executor/",
    "relaygraph_reviewer/",
)


@dataclass
class Profile:
    process: str
    phase: str
    samples: int = 0  # all samples of all threads (wall clock)
    busy: int = 0  # samples whose thread was not waiting
    loop_busy_pct: float = 0.0  # share of the event-loop thread's samples that were busy
    by_package: list[tuple[str, float]] = field(default_factory=list)
    top_self: list[tuple[str, float]] = field(default_factory=list)
    top_inclusive: list[tuple[str, float]] = field(default_factory=list)
    first_party: list[tuple[str, float]] = field(default_factory=list)
    raw_path: str = ""
    error: str = ""


def _frame(raw: str) -> tuple[str, str]:
    m = _FRAME.match(raw.strip())
    if not m:
        return raw.strip(), ""
    return m["func"], m["file"]


def _package(file: str) -> str:
    if not file:
        return "?"
    if file.startswith("<frozen"):
        return "stdlib (frozen)"
    head = file.split("/")[0]
    return head.removesuffix(".py")


def summarize(path: Path, process: str, phase: str, top: int = 15) -> Profile:
    """Percentages are of the busy samples (all threads)."""
    prof = Profile(process, phase, raw_path=str(path))
    self_by_func: Counter[str] = Counter()
    incl_by_func: Counter[str] = Counter()
    first_party: Counter[str] = Counter()
    by_package: Counter[str] = Counter()
    per_thread: dict[str, list[int]] = {}  # thread -> [samples, busy]
    loop_threads: set[str] = set()
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_s = line.rpartition(" ")
        if not stack or not count_s.isdigit():
            continue
        count = int(count_s)
        parts = stack.split(";")
        thread = "?"
        if parts and parts[0].startswith("thread ("):
            thread, parts = parts[0], parts[1:]
        parts = [p for p in parts if not p.startswith("process ")]
        if not parts:
            continue
        frames = [_frame(f) for f in parts]
        names = [f"{func} ({file})" if file else func for func, file in frames]
        counts = per_thread.setdefault(thread, [0, 0])
        counts[0] += count
        prof.samples += count
        if any(n.endswith("(asyncio/runners.py)") for n in names):
            loop_threads.add(thread)
        if names[-1] in IDLE_LEAVES:
            continue
        counts[1] += count
        prof.busy += count
        self_by_func[names[-1]] += count
        by_package[_package(frames[-1][1])] += count
        for name in set(names):
            if name not in _BOILERPLATE and not name.startswith("<module>"):
                incl_by_func[name] += count
        for (_, file), name in {(f, n) for f, n in zip(frames, names, strict=True)}:
            if (
                file.startswith(_FIRST_PARTY)
                and name not in _BOILERPLATE
                and not name.startswith("<module>")
            ):
                first_party[name] += count
    loop = [per_thread[t] for t in loop_threads]
    if loop:
        prof.loop_busy_pct = 100 * sum(b for _, b in loop) / max(1, sum(s for s, _ in loop))
    if prof.busy:

        def share(c: Counter[str]) -> list[tuple[str, float]]:
            return [(k, 100 * v / prof.busy) for k, v in c.most_common(top)]

        prof.by_package = share(by_package)
        prof.top_self = share(self_by_func)
        prof.top_inclusive = share(incl_by_func)
        prof.first_party = share(first_party)
    return prof


class Recorder:
    """py-spy on several processes at once, for ``duration`` seconds."""

    def __init__(self, py_spy: Path, procs: list[Proc], out_dir: Path, phase: str, duration: int):
        self.py_spy = py_spy
        self.procs = procs
        self.out_dir = out_dir
        self.phase = phase
        self.duration = duration
        self.running: list[tuple[Proc, Path, subprocess.Popen[bytes]]] = []

    def start(self) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        for p in self.procs:
            out = self.out_dir / f"{self.phase}-{p.name}.folded"
            log = (self.out_dir / f"{self.phase}-{p.name}.log").open("wb")
            proc = subprocess.Popen(
                [
                    str(self.py_spy),
                    "record",
                    "--pid",
                    str(p.pid),
                    "--duration",
                    str(self.duration),
                    "--rate",
                    str(RATE),
                    "--idle",
                    "--threads",
                    "--format",
                    "raw",
                    "--output",
                    str(out),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
            log.close()
            self.running.append((p, out, proc))

    def finish(self) -> list[Profile]:
        profiles = []
        for p, out, proc in self.running:
            try:
                proc.wait(self.duration + 60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if out.exists():
                profiles.append(summarize(out, p.name, self.phase))
                with out.open("rb") as src, gzip.open(f"{out}.gz", "wb") as dst:
                    shutil.copyfileobj(src, dst)
                out.unlink()
                out.with_suffix(".log").unlink(missing_ok=True)
            else:
                log = out.with_suffix(".log")
                text = log.read_text(errors="replace")[-500:] if log.exists() else ""
                profiles.append(Profile(p.name, self.phase, error=f"no profile: {text}"))
        return profiles
