"""The servers under test, each started fresh on free loopback ports:

- ``relaygraph dev``: the one-command way, embedded nats-server and Valkey, as
  a user runs it (reviewer included, since dev starts it by default);
- ``relaygraph split``: nats-server, Valkey, one gateway and N executors as
  separate processes, as production runs them (executors can be added);
- ``langgraph dev``: the official LangGraph dev server (``langgraph-cli[inmem]``),
  installed from ``official-requirements.txt`` into its own venv.

All three serve a fresh copy of ``bench/graphs`` (the same ``langgraph.json``), with
``examples/graphs/edit_text.py`` as its ``interrupt.py``.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from relaygraph_dev.servers import (
    ServerProcess,
    die_with_parent,
    free_port,
    nats_server,
    valkey_server,
)
from serverbench.procs import Proc, descendants, role

BENCH = Path(__file__).resolve().parents[1]
ROOT = BENCH.parent
GRAPHS = BENCH / "graphs"
# The interrupt cycle runs the example users start from, copied in as interrupt.py.
INTERRUPT_GRAPH = BENCH.parent / "examples" / "graphs" / "edit_text.py"
WORK = BENCH / ".work"
OFFICIAL_REQUIREMENTS = BENCH / "official-requirements.txt"
TOOLS_REQUIREMENTS = BENCH / "tools-requirements.txt"

# The official server must not talk to anything but the benchmark.
OFFLINE_ENV = {
    "LANGSMITH_TRACING": "false",
    "LANGSMITH_TRACING_V2": "false",
    "LANGCHAIN_TRACING_V2": "false",
    "LANGGRAPH_CLI_NO_ANALYTICS": "1",
    "LANGCHAIN_CALLBACKS_BACKGROUND": "true",
}
_DROP_ENV = ("LANGSMITH_API_KEY", "LANGCHAIN_API_KEY", "LANGGRAPH_CLOUD_LICENSE_KEY", "NATS_URL")


class TargetError(RuntimeError):
    pass


def _venv(path: Path, requirements: Path, log: Path) -> Path:
    """A venv at ``path`` with exactly ``requirements``, made once per content."""
    stamp = path / ".installed"
    wanted = requirements.read_text()
    if stamp.exists() and stamp.read_text() == wanted:
        return path
    shutil.rmtree(path, ignore_errors=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    base = getattr(sys, "_base_executable", sys.executable)
    with log.open("ab") as out:
        for cmd in (
            [base, "-m", "venv", str(path)],
            [
                str(path / "bin" / "pip"),
                "install",
                "--disable-pip-version-check",
                "--no-input",
                "-r",
                str(requirements),
            ],
        ):
            code = subprocess.call(cmd, stdout=out, stderr=subprocess.STDOUT)
            if code:
                raise TargetError(f"{' '.join(cmd)} failed ({code}); see {log}")
    stamp.write_text(wanted)
    return path


def official_venv() -> Path:
    return _venv(WORK / "official-venv", OFFICIAL_REQUIREMENTS, WORK / "official-install.log")


def tools_venv() -> Path:
    return _venv(WORK / "tools-venv", TOOLS_REQUIREMENTS, WORK / "tools-install.log")


def official_versions() -> dict[str, str]:
    venv = official_venv()
    code = (
        "import importlib.metadata as m, json, sys\n"
        "names = ['langgraph', 'langgraph-api', 'langgraph-cli', 'langgraph-runtime-inmem',"
        " 'langgraph-checkpoint', 'langgraph-sdk', 'uvicorn', 'starlette']\n"
        "print(json.dumps({n: m.version(n) for n in names}))\n"
    )
    import json

    out = subprocess.check_output([str(venv / "bin" / "python"), "-c", code], text=True)
    return json.loads(out)


def _copy_graphs(dest: Path) -> Path:
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(GRAPHS, dest, ignore=shutil.ignore_patterns("__pycache__", ".*"))
    shutil.copy(INTERRUPT_GRAPH, dest / "interrupt.py")
    return dest / "langgraph.json"


def _stop(proc: subprocess.Popen[bytes] | None, timeout: float = 30.0) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class Target:
    """One server under test. ``start()`` returns once a run goes through."""

    name = "?"
    key = "?"
    can_scale = False

    def __init__(self, work: Path) -> None:
        self.work = work / self.key
        self.port = 0
        self.main: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    log: Path | None = None

    def start(self) -> None:
        raise NotImplementedError

    def _launch(self, args: list[str], log: Path, cwd: Path, env: dict[str, str]) -> None:
        """Start the target's one process (its output in ``log``); return once ready."""
        self.log = log
        with log.open("wb") as out:
            self.main = subprocess.Popen(
                args,
                cwd=cwd,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=die_with_parent,
            )
        self.wait_ready()

    def stop(self) -> None:
        _stop(self.main)

    def procs(self) -> list[Proc]:
        """Every process of this target with a unique role name."""
        assert self.main is not None
        return _named(descendants(self.main.pid))

    def logs(self, tail: int = 3000) -> str:
        if self.log is None or not self.log.exists():
            return ""
        return self.log.read_text(errors="replace")[-tail:]

    def wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        last: object = "no answer"
        while time.monotonic() < deadline:
            for proc in self._watched():
                if proc.poll() is not None:
                    raise TargetError(
                        f"{self.name}: a process exited ({proc.returncode}):\n{self.logs()[-4000:]}"
                    )
            try:
                r = httpx.post(
                    f"{self.url}/runs/wait",
                    json={"assistant_id": "stateless", "input": {"n": 1}},
                    timeout=10,
                )
                if r.status_code == 200 and r.json() == {"n": 1, "doubled": 2}:
                    return
                last = f"{r.status_code} {r.text[:300]}"
            except httpx.HTTPError as exc:
                last = repr(exc)
            time.sleep(0.25)
        raise TargetError(f"{self.name} not ready in {timeout}s: {last}\n{self.logs()[-4000:]}")

    def _watched(self) -> list[subprocess.Popen[bytes]]:
        return [self.main] if self.main is not None else []


def _named(pids: list[int]) -> list[Proc]:
    seen: dict[str, int] = {}
    out = []
    for pid in sorted(pids):
        name = role(pid)
        seen[name] = seen.get(name, 0) + 1
        out.append(Proc(name if seen[name] == 1 else f"{name}-{seen[name]}", pid))
    return out


class RelaygraphDev(Target):
    name = "relaygraph dev"
    key = "relaygraph-dev"

    def start(self) -> None:
        config = _copy_graphs(self.work / "project")
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if k not in ("NATS_URL", "REDIS_URL")}
        self._launch(
            [
                str(Path(sys.executable).parent / "relaygraph"),
                "dev",
                "--port",
                str(self.port),
                "--reviewer-port",
                str(free_port()),
                "--config",
                str(config),
            ],
            self.work / "dev.log",
            config.parent,
            env,
        )


class RelaygraphSplit(Target):
    name = "relaygraph split"
    key = "relaygraph-split"
    can_scale = True

    def __init__(self, work: Path, extra_env: dict[str, str] | None = None) -> None:
        super().__init__(work)
        self.extra_env = extra_env or {}

    def start(self, executors: int = 1) -> None:
        shutil.rmtree(self.work, ignore_errors=True)
        self.work.mkdir(parents=True)
        self.config = _copy_graphs(self.work / "project")
        self.nats_monitor = f"http://127.0.0.1:{free_port()}"
        self.nats: ServerProcess = nats_server(
            self.work / "nats", extra=[f"http: {self.nats_monitor.removeprefix('http://')}"]
        ).start()
        self.redis: ServerProcess = valkey_server(self.work / "valkey").start()
        self.env = {
            **os.environ,
            "NATS_URL": self.nats.url,
            "REDIS_URL": self.redis.url,
            **self.extra_env,
        }
        self.port = free_port()
        self.services: list[tuple[str, subprocess.Popen[bytes], Path]] = []
        self._service(
            "gateway", ["gateway", "--config", str(self.config), "--port", str(self.port)]
        )
        self.add_executors(executors)
        self.wait_ready()

    def _service(self, name: str, args: list[str], env: dict[str, str] | None = None) -> Path:
        log = self.work / f"{name}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "relaygraph.cli", *args],
                env=env or self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=die_with_parent,
            )
        self.services.append((name, proc, log))
        if self.main is None:
            self.main = proc
        return log

    @property
    def executors(self) -> int:
        return sum(1 for name, _, _ in self.services if name.startswith("executor"))

    def add_executors(self, n: int, timeout: float = 60.0) -> None:
        logs = []
        for _ in range(n):
            i = self.executors
            env = {**self.env, "RELAYGRAPH_EXECUTOR_ID": f"bench-executor-{i}"}
            logs.append(
                self._service(f"executor-{i}", ["executor", "--config", str(self.config)], env)
            )
        deadline = time.monotonic() + timeout
        for log in logs:
            while "serving graphs" not in log.read_text(errors="replace"):
                for name, proc, _ in self.services:
                    if proc.poll() is not None:
                        raise TargetError(f"{name} exited:\n{self.logs()[-4000:]}")
                if time.monotonic() > deadline:
                    raise TargetError(f"executor not ready in {timeout}s:\n{self.logs()[-4000:]}")
                time.sleep(0.1)

    def procs(self) -> list[Proc]:
        out = [Proc(name, proc.pid) for name, proc, _ in self.services if proc.poll() is None]
        for server in (self.nats, self.redis):
            if server.proc is not None and server.proc.poll() is None:
                out.append(Proc(server.name, server.proc.pid))
        return out

    def _watched(self) -> list[subprocess.Popen[bytes]]:
        return [proc for _, proc, _ in self.services]

    def logs(self, tail: int = 3000) -> str:
        return "\n".join(
            f"--- {name}\n{log.read_text(errors='replace')[-tail:]}"
            for name, _, log in self.services
        )

    def stop(self) -> None:
        for _, proc, _ in reversed(self.services):
            _stop(proc)
        self.redis.stop()
        self.nats.stop()


class OfficialDev(Target):
    name = "langgraph dev"
    key = "official"

    def start(self) -> None:
        venv = official_venv()
        config = _copy_graphs(self.work / "project")
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if k not in _DROP_ENV}
        env.update(OFFLINE_ENV)
        env["VIRTUAL_ENV"] = str(venv)
        env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        env.pop("PYTHONPATH", None)
        self._launch(
            [
                str(venv / "bin" / "langgraph"),
                "dev",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--no-browser",
                "--no-reload",
                "--allow-blocking",
                "--n-jobs-per-worker",
                "10",
                "--config",
                "langgraph.json",
            ],
            self.work / "langgraph-dev.log",
            config.parent,
            env,
        )


TARGETS: dict[str, type[Target]] = {
    RelaygraphDev.key: RelaygraphDev,
    RelaygraphSplit.key: RelaygraphSplit,
    OfficialDev.key: OfficialDev,
}
