"""`relaygraph dev` in a user's own directory: their langgraph.json (graphs,
dependencies, env), embedded nats-server and Valkey with data under
.relaygraph/, and a paused thread still there after a restart."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from relaygraph.servers import die_with_parent, free_port

pytestmark = pytest.mark.e2e

GRAPH = """
import os
from typing import TypedDict

from langgraph.graph import START, StateGraph
from langgraph.types import interrupt

from helpers import shout


class State(TypedDict, total=False):
    name: str
    greeting: str


def greet(state: State) -> State:
    answer = interrupt({"ask": f"greet {state['name']}?"})
    return {"greeting": shout(f"{os.environ['GREETING']} {state['name']}, {answer}")}


builder = StateGraph(State)
builder.add_node(greet)
builder.add_edge(START, "greet")
graph = builder.compile()
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "helpers.py").write_text("def shout(s):\n    return s.upper()\n")
    (tmp_path / "my_graph.py").write_text(GRAPH)
    (tmp_path / ".env").write_text("GREETING=hello\n")
    (tmp_path / "langgraph.json").write_text(
        json.dumps(
            {"dependencies": ["./src"], "graphs": {"greeter": "./my_graph.py:graph"}, "env": ".env"}
        )
    )
    return tmp_path


@pytest.fixture
def dev(project: Path) -> Iterator[tuple[str, callable]]:  # type: ignore[valid-type]
    port = free_port()
    procs: list[subprocess.Popen[bytes]] = []
    cli = Path(sys.executable).parent / "relaygraph"

    def start() -> subprocess.Popen[bytes]:
        with (project / "dev.log").open("ab") as log:
            proc = subprocess.Popen(
                [str(cli), "dev", "--port", str(port), "--reviewer-port", str(free_port())],
                cwd=project,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=die_with_parent,
            )
        procs.append(proc)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert proc.poll() is None, (project / "dev.log").read_text()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/assistants/greeter/schemas").is_success:
                    return proc
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError((project / "dev.log").read_text())

    def stop(proc: subprocess.Popen[bytes]) -> int:
        proc.send_signal(signal.SIGINT)
        return proc.wait(30)

    yield f"http://127.0.0.1:{port}", start, stop  # type: ignore[misc]
    for p in procs:
        if p.poll() is None:
            stop(p)


def test_dev_in_a_users_directory_survives_a_restart(project: Path, dev: tuple) -> None:  # type: ignore[type-arg]
    url, start, stop = dev
    proc = start()
    thread = httpx.post(f"{url}/threads", json={}).json()["thread_id"]
    out = httpx.post(
        f"{url}/threads/{thread}/runs/wait",
        json={"assistant_id": "greeter", "input": {"name": "ada"}},
        timeout=30,
    ).json()
    assert out["__interrupt__"][0]["value"] == {"ask": "greet ada?"}
    assert stop(proc) == 0
    assert (project / ".relaygraph" / "nats").is_dir()
    assert (project / ".relaygraph" / "valkey").is_dir()

    start()
    assert httpx.get(f"{url}/threads/{thread}").json()["status"] == "interrupted"
    out = httpx.post(
        f"{url}/threads/{thread}/runs/wait",
        json={"assistant_id": "greeter", "command": {"resume": "welcome"}},
        timeout=30,
    ).json()
    assert out == {"name": "ada", "greeting": "HELLO ADA, WELCOME"}
    log = (project / "dev.log").read_text()
    assert "API on http://127.0.0.1:" in log
    assert "Traceback" not in log
