"""`relaygraph dev` in a user's own directory: their langgraph.json (graphs,
dependencies, env), embedded nats-server and Valkey with data under
.relaygraph/, and a paused thread still there after a restart. A user waits
for its "API on" line and sends the first request at once; graphs that do
not load are reported and the others served."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from relaygraph_dev.servers import die_with_parent, free_port

pytestmark = pytest.mark.e2e
READY = re.compile(r"relaygraph dev: API on http://\S+")
SERVING = re.compile(r"INFO relaygraph.executor: executor dev-\S+ serving graphs ")

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
                process_group=0,  # its own, as a terminal gives it
            )
        procs.append(proc)
        # As a user does: wait for the line that says it is ready, nothing else.
        seen = len(READY.findall((project / "dev.log").read_text()))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            log = (project / "dev.log").read_text()
            assert proc.poll() is None, log
            if len(READY.findall(log)) > seen:
                # Ready means an executor subscribed, not just the gateway up:
                # the executor logs "serving graphs" after subscribing and before
                # writing the liveness key dev waits for; every process appends
                # to dev.log, so that line is already in it, once per start.
                assert len(SERVING.findall(log)) == len(READY.findall(log)), log
                return proc
            time.sleep(0.05)
        raise AssertionError((project / "dev.log").read_text())

    def stop(proc: subprocess.Popen[bytes]) -> int:
        """Ctrl-C as a terminal sends it: to every process of the group."""
        os.killpg(proc.pid, signal.SIGINT)
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
    # Ctrl-C reached the services, not the servers: they drained against a
    # NATS still up, so nothing complained on the way out.
    assert " WARNING " not in log and " ERROR " not in log, log


BROKEN = {
    "no_module.py": "import a_module_nobody_wrote\n\ngraph = None\n",
    "factories.py": (
        "def needs_a_key():\n"
        "    raise ValueError('OPENAI_API_KEY is not set')\n\n\n"
        "def three_args(a, b, c):\n"
        "    raise AssertionError('never called')\n"
    ),
}


def test_graphs_that_do_not_load_are_reported_and_the_others_served(
    project: Path,
    dev: tuple,  # type: ignore[type-arg]
) -> None:
    for name, text in BROKEN.items():
        (project / name).write_text(text)
    config = json.loads((project / "langgraph.json").read_text())
    config["graphs"].update(
        {
            "no_module": "./no_module.py:graph",
            "needs_a_key": "./factories.py:needs_a_key",
            "three_args": "./factories.py:three_args",
        }
    )
    (project / "langgraph.json").write_text(json.dumps(config))
    url, start, _ = dev
    start()
    thread = httpx.post(f"{url}/threads", json={}).json()["thread_id"]
    out = httpx.post(
        f"{url}/threads/{thread}/runs/wait",
        json={"assistant_id": "greeter", "input": {"name": "ada"}},
        timeout=30,
    )
    assert out.status_code == 200, out.text
    assert out.json()["__interrupt__"][0]["value"] == {"ask": "greet ada?"}

    errors = httpx.get(f"{url}/info").json()["graph_errors"]
    assert errors.keys() == {"no_module", "needs_a_key", "three_args"}
    assert "ModuleNotFoundError: No module named 'a_module_nobody_wrote'" in errors["no_module"]
    assert "(at no_module.py:1)" in errors["no_module"]
    assert "ValueError: OPENAI_API_KEY is not set (at factories.py:2)" in errors["needs_a_key"]
    assert "must take no argument, a config" in errors["three_args"]
    log = (project / "dev.log").read_text()
    for message in errors.values():
        assert f"relaygraph dev: {message}" in log

    # The executor's own line: with the traceback when the user's code raised
    # (the import, the factory), the message alone for our signature check.
    lines = log.splitlines()
    for graph_id, traceback in (("no_module", True), ("needs_a_key", True), ("three_args", False)):
        at = next(
            i
            for i, line in enumerate(lines)
            if f"ERROR relaygraph.executor: graph '{graph_id}'" in line
        )
        assert lines[at + 1].startswith("Traceback") is traceback, lines[at : at + 2]

    for graph_id in errors:
        failed = httpx.post(
            f"{url}/runs/wait", json={"assistant_id": graph_id, "input": {}}, timeout=30
        )
        assert failed.status_code == 200
        assert failed.json() == {
            "__error__": {"error": "GraphLoadError", "message": errors[graph_id]}
        }
    schemas = httpx.get(f"{url}/assistants/needs_a_key/schemas")
    assert schemas.status_code == 424
    assert schemas.json()["detail"] == errors["needs_a_key"]
