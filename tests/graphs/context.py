"""Test graphs for runtime context and graph factories.

``echo_context`` has a ``context_schema`` and copies ``Runtime.context`` into
its state (``echo_get_runtime`` too, read through ``get_runtime()``); the
factories build a graph per run from what they are given (the run's config, a
``ServerRuntime``, or both), as LangGraph Server calls them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, TypedDict

from langchain_core.runnables import RunnableConfig
from langgraph.graph import START, StateGraph
from langgraph.runtime import Runtime, get_runtime
from langgraph_sdk.runtime import ServerRuntime


@dataclass
class Settings:
    model: str = "small"
    temperature: float = 0.0


class State(TypedDict, total=False):
    question: str
    seen: dict[str, Any]


def echo(state: State, runtime: Runtime[Settings]) -> State:
    return {"seen": asdict(runtime.context)}


builder = StateGraph(State, context_schema=Settings)
builder.add_node(echo)
builder.add_edge(START, "echo")
echo_context = builder.compile()


def _echo_from_get_runtime(state: State) -> State:
    # No `runtime` parameter: a node (or a tool it calls) may read the run's
    # context through get_runtime(), as LangGraph documents; it must be there too.
    return {"seen": asdict(get_runtime(Settings).context)}


get_runtime_builder = StateGraph(State, context_schema=Settings)
get_runtime_builder.add_node("echo", _echo_from_get_runtime)
get_runtime_builder.add_edge(START, "echo")
echo_get_runtime = get_runtime_builder.compile()
"""``echo_context`` reading its context through ``get_runtime()``."""


def _graph_saying(what: dict[str, Any]) -> Any:
    def say(state: State) -> State:
        return {"seen": what}

    b = StateGraph(State)
    b.add_node("say", say)
    b.add_edge(START, "say")
    return b.compile()


def from_config(config: RunnableConfig) -> Any:
    """A factory of the run's config."""
    return _graph_saying({"tone": config.get("configurable", {}).get("tone", "plain")})


async def from_runtime(runtime: ServerRuntime) -> Any:
    """An async factory of a ServerRuntime: what it reads depends on the access."""
    run = runtime.execution_runtime
    return _graph_saying(
        {"access": runtime.access_context, "context": run.context if run is not None else None}
    )


def from_both(config: RunnableConfig, runtime: ServerRuntime) -> Any:
    return _graph_saying(
        {"access": runtime.access_context, "thread": config["configurable"].get("thread_id")}
    )


def _who(state: State, config: RunnableConfig) -> State:
    conf = config["configurable"]
    return {"seen": {k: conf.get(k) for k in ("run_id", "thread_id", "graph_id", "assistant_id")}}


whoami_builder = StateGraph(State)
whoami_builder.add_node("who", _who)
whoami_builder.add_edge(START, "who")
whoami = whoami_builder.compile()
"""Says which run, thread, graph and assistant its config names."""


def _caller(state: State, config: RunnableConfig) -> State:
    conf = config["configurable"]
    user = conf.get("langgraph_auth_user") or {}
    return {
        "seen": {
            "user_id": conf.get("user_id"),
            "auth_user_id": conf.get("langgraph_auth_user_id"),
            "auth_user": user.get("identity") if hasattr(user, "get") else user.identity,
            "permissions": conf.get("langgraph_auth_permissions"),
        }
    }


caller_builder = StateGraph(State)
caller_builder.add_node("caller", _caller)
caller_builder.add_edge(START, "caller")
caller = caller_builder.compile()
"""Says who asked for the run (custom auth's keys of its config)."""
