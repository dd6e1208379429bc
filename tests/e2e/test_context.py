"""A run's ``context`` reaches the graph as ``Runtime.context``, and graph
factories are called per run as LangGraph Server calls them. Every expected
value below is what ``langgraph dev`` (langgraph-api 0.16.7) returned for the
same call on the same graphs (tests/graphs/context.py)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.e2e


# The same graph twice: one node takes ``runtime: Runtime[Settings]``, the
# other calls ``get_runtime(Settings)``.
GRAPHS = pytest.mark.parametrize("graph", ["echo_context", "echo_get_runtime"])


async def streamed_values(c: Any, thread_id: str | None, graph: str, **kwargs: Any) -> Any:
    """The last ``values`` event of ``runs.stream``."""
    chunks = [
        chunk.data
        async for chunk in c.runs.stream(thread_id, graph, stream_mode="values", **kwargs)
        if chunk.event == "values"
    ]
    return chunks[-1]


@GRAPHS
async def test_context_reaches_the_graph(c: Any, graph: str) -> None:
    """Through each way a run is sent: wait, stream, and a background run joined."""
    large = {"question": "q", "seen": {"model": "large", "temperature": 0.0}}
    context = {"model": "large", "junk": 1}
    tid = (await c.threads.create())["thread_id"]
    assert await c.runs.wait(tid, graph, input={"question": "q"}, context=context) == large
    tid = (await c.threads.create())["thread_id"]
    assert await streamed_values(c, tid, graph, input={"question": "q"}, context=context) == large
    tid = (await c.threads.create())["thread_id"]
    run = await c.runs.create(tid, graph, input={"question": "q"}, context=context)
    assert await c.runs.join(tid, run["run_id"]) == large


@GRAPHS
async def test_no_context_gives_the_schemas_defaults(c: Any, graph: str) -> None:
    out = await c.runs.wait(None, graph, input={"question": "q"})
    assert out == {"question": "q", "seen": {"model": "small", "temperature": 0.0}}
    streamed = await streamed_values(c, None, graph, input={"question": "q"})
    assert streamed["seen"] == {"model": "small", "temperature": 0.0}


async def test_configurable_stands_in_for_context(c: Any) -> None:
    out = await c.runs.wait(
        None,
        "echo_context",
        input={"question": "q"},
        config={"configurable": {"model": "cfg", "junk": 2}},
    )
    assert out["seen"] == {"model": "cfg", "temperature": 0.0}


async def test_context_and_configurable_together_is_a_400(c: Any) -> None:
    with pytest.raises(httpx.HTTPStatusError) as err:
        await c.runs.wait(
            None,
            "echo_context",
            input={"question": "q"},
            config={"configurable": {"model": "cfg"}},
            context={"model": "x"},
        )
    assert err.value.response.status_code == 400
    assert "`context` or `config.configurable`" in err.value.response.json()["detail"]


async def test_factories_are_called_per_run(c: Any) -> None:
    out = await c.runs.wait(
        None, "from_config", input={}, config={"configurable": {"tone": "warm"}}
    )
    assert out == {"seen": {"tone": "warm"}}
    out = await c.runs.wait(None, "from_runtime", input={}, context={"a": 1})
    assert out == {"seen": {"access": "threads.create_run", "context": {"a": 1}}}
    out = await c.runs.wait(None, "from_runtime", input={})
    assert out == {"seen": {"access": "threads.create_run", "context": {}}}
    tid = (await c.threads.create())["thread_id"]
    out = await c.runs.wait(tid, "from_both", input={})
    assert out == {"seen": {"access": "threads.create_run", "thread": tid}}
    schemas = await c.assistants.get_schemas(
        (await c.assistants.get("from_runtime"))["assistant_id"]
    )
    assert schemas["input_schema"]["properties"].keys() == {"question", "seen"}


async def test_a_graph_reads_its_run_in_configurable(c: Any) -> None:
    """As LangGraph Server tells a graph: run_id, thread_id, graph_id and
    assistant_id in ``config["configurable"]``."""
    tid = (await c.threads.create())["thread_id"]
    run = await c.runs.create(tid, "whoami", input={})
    out = await c.runs.join(tid, run["run_id"])
    assert out["seen"] == {
        "run_id": run["run_id"],
        "thread_id": tid,
        "graph_id": "whoami",
        "assistant_id": run["assistant_id"],
    }
