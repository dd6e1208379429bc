"""A graph that keeps memories in the LangGraph Store: each run stores its
text under the user's namespace and returns every memory of that user, read
through ``runtime.store`` and ``get_store()`` (which must be the same store)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TypedDict

from langgraph.config import get_store
from langgraph.graph import START, StateGraph
from langgraph.runtime import Runtime


@dataclass
class User:
    user: str = "anonymous"


class State(TypedDict, total=False):
    text: str
    remembered: list[str]


async def remember(state: State, runtime: Runtime[User]) -> State:
    store = runtime.store
    assert store is not None and get_store() is store
    namespace = ("memories", runtime.context.user)
    await store.aput(namespace, uuid.uuid4().hex, {"text": state["text"]}, index=False)
    found = await store.asearch(namespace, limit=100)
    return {"remembered": sorted(item.value["text"] for item in found)}


builder = StateGraph(State, context_schema=User)
builder.add_node(remember)
builder.add_edge(START, "remember")
memory = builder.compile()
