"""What an operator sees, on a system of its own: OpenTelemetry traces across
the broker (exported over OTLP to a receiver in the test), Prometheus
``/metrics`` on the gateway, the executor and the reviewer, and JSON log lines
that name their run, thread and executor."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_client

from relaygraph_dev.servers import free_port
from tests.otlp_receiver import Receiver, otlp_receiver
from tests.system import System, assert_eventually, running_system

pytestmark = pytest.mark.e2e
AUTO = "auto-answer me"


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with otlp_receiver() as r:
        yield r


@pytest.fixture(scope="module")
def observed(tmp_path_factory: pytest.TempPathFactory, receiver: Receiver) -> Iterator[System]:
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
        "OTEL_BSP_SCHEDULE_DELAY": "100",
        "RELAYGRAPH_METRICS_PORT": str(free_port()),
        "RELAYGRAPH_METRICS_HOST": "127.0.0.2",  # not the default 127.0.0.1
        "RELAYGRAPH_LOG_FORMAT": "json",
        "RELAYGRAPH_LOG_LEVEL": "DEBUG",
    }
    with running_system(Path(tmp_path_factory.mktemp("observed")), extra_env=env) as s:
        yield s


@pytest.fixture(scope="module")
def reviewer(observed: System, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A reviewer whose rule answers the ``agent`` graph's interrupts on AUTO."""
    data = tmp_path_factory.mktemp("observed-reviewer")
    rules = data / "rules.json"
    rules.write_text(
        json.dumps([{"graph_id": "agent", "match": {"text_to_revise": AUTO}, "resume": "done"}])
    )
    with observed.reviewer("observed", REVIEWER_RULES=str(rules)) as r:
        yield r.url


def _one(spans: list[Any], service: str, name: str) -> Any:
    found = [s for s in spans if s.service == service and s.name == name]
    assert len(found) == 1, (service, name, [(s.service, s.name) for s in spans])
    return found[0]


async def test_one_trace_from_the_request_through_the_reviewer_to_the_resumed_run(
    observed: System, reviewer: str, receiver: Receiver
) -> None:
    async with get_client(url=observed.url, timeout=30) as c:
        tid = (await c.threads.create())["thread_id"]
        first = await c.runs.wait(tid, "agent", input={"some_text": AUTO})
        assert first["__interrupt__"][0]["value"] == {"text_to_revise": AUTO}

        async def resumed() -> None:
            state = await c.threads.get_state(tid)
            assert state["values"] == {"some_text": "done"} and not state["next"]

        await assert_eventually(resumed, 20)

    async def whole_trace() -> list[Any]:
        [request] = [
            s
            for s in receiver.spans
            if s.name == "POST /threads/{thread_id}/runs/wait"
            and s.attributes.get("url.path") == f"/threads/{tid}/runs/wait"
        ]
        spans = receiver.in_trace(request.trace_id)
        runs = [s for s in spans if s.name == "run agent"]
        assert len(runs) == 2, [(s.service, s.name) for s in spans]
        # Each process exports on its own schedule: wait for every hop's span.
        names = {(s.service, s.name) for s in spans}
        for hop in (("relaygraph-reviewer", "review"), ("relaygraph-gateway", "nats resume")):
            assert hop in names, names
        return [request, *spans]

    request, *spans = await assert_eventually(whole_trace, 20)
    by_id = {s.span_id: s for s in spans}
    first_run, resumed_run = sorted(
        (s for s in spans if s.name == "run agent"), key=lambda s: s.parent_id != request.span_id
    )
    assert first_run.service == "relaygraph-executor" and first_run.parent_id == request.span_id
    nodes = [s for s in spans if s.name == "node human_node"]
    assert {by_id[n.parent_id].name for n in nodes} == {"run agent"}, nodes
    review = _one(spans, "relaygraph-reviewer", "review")
    assert review.parent_id == first_run.span_id  # the interrupt event carried the run's span
    nats_resume = _one(spans, "relaygraph-gateway", "nats resume")
    assert nats_resume.parent_id == review.span_id
    resume = _one(spans, "relaygraph-gateway", "resume")
    assert resume.parent_id == first_run.span_id
    assert resumed_run.parent_id == resume.span_id


async def test_an_http_resume_continues_the_interrupted_runs_trace(
    observed: System, receiver: Receiver
) -> None:
    async with get_client(url=observed.url, timeout=30) as c:
        tid = (await c.threads.create())["thread_id"]
        await c.runs.wait(tid, "agent", input={"some_text": "by hand"})
        assert await c.runs.wait(tid, "agent", command={"resume": "edited"}) == {
            "some_text": "edited"
        }

    async def traced() -> tuple[Any, Any, Any]:
        waits = [
            s
            for s in receiver.spans
            if s.service == "relaygraph-gateway"
            and s.name == "POST /threads/{thread_id}/runs/wait"
            and s.attributes.get("url.path") == f"/threads/{tid}/runs/wait"
        ]
        assert len(waits) == 2
        first, second = sorted(waits, key=lambda s: any(s.links))
        resume = [s for s in receiver.in_trace(first.trace_id) if s.name == "resume"]
        runs = [s for s in receiver.in_trace(first.trace_id) if s.name == "run agent"]
        assert len(resume) == 1 and len(runs) == 2
        return second, resume[0], runs

    second, resume, runs = await assert_eventually(traced, 20)
    assert second.trace_id in resume.links or resume.links == (second.trace_id,)
    assert any(r.parent_id == resume.span_id for r in runs)


async def test_metrics_on_the_gateway_the_executor_and_the_reviewer(
    observed: System, reviewer: str
) -> None:
    async with get_client(url=observed.url, timeout=30) as c:
        tid = (await c.threads.create())["thread_id"]
        await c.runs.wait(tid, "agent", input={"some_text": "counted"})
        await c.runs.wait(tid, "agent", command={"resume": "yes"})
    async with httpx.AsyncClient(timeout=10) as http:
        gateway = (await http.get(f"{observed.url}/metrics")).text
        port = observed.env["RELAYGRAPH_METRICS_PORT"]
        executor = (await http.get(f"http://127.0.0.2:{port}/metrics")).text
        with pytest.raises(httpx.ConnectError):  # bound to RELAYGRAPH_METRICS_HOST only
            await http.get(f"http://127.0.0.1:{port}/metrics")
        inbox = (await http.get(f"{reviewer}/metrics")).text
    for line in (
        'relaygraph_http_requests_total{route="/threads/{thread_id}/runs/wait",status="200"}',
        'relaygraph_runs_created_total{outcome="dispatch"}',
        'relaygraph_resumes_total{outcome="dispatch",transport="http"}',
        "relaygraph_queue_depth ",
    ):
        assert line in gateway, line
    waited = re.search(r"^relaygraph_interrupt_wait_seconds_count (\S+)$", gateway, re.M)
    assert waited is not None and float(waited.group(1)) >= 1, gateway
    for line in (
        'relaygraph_run_attempt_duration_seconds_count{status="success"}',
        'relaygraph_interrupts_total{graph_id="agent"}',
        'relaygraph_runs_ended_total{status="success"}',
        'relaygraph_checkpoint_seconds_count{op="read"}',
        "relaygraph_run_claim_delay_seconds_count",
        "relaygraph_runs_in_flight 0.0",
    ):
        assert line in executor, line
    assert "relaygraph_interrupts_pending " in inbox


def test_json_log_lines_name_their_run_thread_and_executor(observed: System) -> None:
    lines = [
        json.loads(line)
        for svc in observed.services
        if svc.name.startswith("executor")
        for line in svc.log.read_text().splitlines()
        if line.startswith("{")
    ]
    assert lines, "the executor logs JSON lines"
    about_runs = [line for line in lines if "run_id" in line]
    assert about_runs, lines[-5:]
    for line in about_runs:
        assert line["thread_id"] and line["executor_id"] and line["level"] and line["time"]
