"""Review tool calls (LangGraph HITL guide): the model proposes a tool call, a
person approves it (``continue``), edits its arguments (``update``), or sends
feedback to the model (``feedback``); the node answers with ``Command(goto=...,
update=...)``.

The model is a deterministic stand-in, so the example needs no network or key:
asked about the weather in a city, it calls ``weather_search``; given a tool
result, it reports it; given feedback, it proposes the call again as told.
"""

from __future__ import annotations

import re
from typing import Literal

from langchain_core.messages import AIMessage, AnyMessage, ToolMessage
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.types import Command, interrupt

CITIES = {"sf": "San Francisco", "nyc": "New York", "la": "Los Angeles"}


def _city(text: str) -> str:
    match = re.search(r"weather in ([\w\s,.]+?)\??$", text.strip(), re.IGNORECASE)
    name = match.group(1).strip() if match else "San Francisco"
    return CITIES.get(name.lower(), name)


def call_llm(state: MessagesState) -> dict[str, list[AnyMessage]]:
    last = state["messages"][-1]
    calls = sum(1 for m in state["messages"] if isinstance(m, AIMessage))
    proposed = next(
        (
            m.tool_calls[-1]["args"]["city"]
            for m in reversed(state["messages"])
            if isinstance(m, AIMessage) and m.tool_calls
        ),
        "",
    )
    if isinstance(last, ToolMessage) and last.artifact == "weather_search":
        return {
            "messages": [
                AIMessage(
                    f"According to the search, it's {str(last.content).lower().rstrip('!')} "
                    f"in {proposed} right now!"
                )
            ]
        }
    if isinstance(last, ToolMessage):  # the reviewer's feedback on the proposed call
        feedback = str(last.content)
        if "<city, country>" in feedback:
            city = proposed if "," in proposed else f"{proposed}, USA"
        else:
            city = _city(f"weather in {feedback.removeprefix('User requested changes:')}")
        text = "Let me try that again with the correct format:"
    else:
        city = _city(str(last.content))
        text = f"I'll help you check the weather in {city}."
    return {
        "messages": [
            AIMessage(
                content=text,
                tool_calls=[
                    {
                        "name": "weather_search",
                        "args": {"city": city},
                        "id": f"call_{calls + 1}",
                        "type": "tool_call",
                    }
                ],
            )
        ]
    }


def human_review_node(state: MessagesState) -> Command[Literal["call_llm", "run_tool"]]:
    last = state["messages"][-1]
    assert isinstance(last, AIMessage)
    tool_call = last.tool_calls[-1]
    review = interrupt({"question": "Is this correct?", "tool_call": tool_call})
    action, data = review.get("action"), review.get("data")
    if action == "continue":
        return Command(goto="run_tool")
    if action == "update":
        updated = AIMessage(
            content=last.content,
            id=last.id,
            tool_calls=[
                {
                    "name": tool_call["name"],
                    "args": data,
                    "id": tool_call["id"],
                    "type": "tool_call",
                }
            ],
        )
        return Command(goto="run_tool", update={"messages": [updated]})
    if action == "feedback":
        feedback = ToolMessage(
            content=str(data), name=tool_call["name"], tool_call_id=tool_call["id"]
        )
        return Command(goto="call_llm", update={"messages": [feedback]})
    raise ValueError(f"unknown review action {action!r}: use continue, update or feedback")


def run_tool(state: MessagesState) -> dict[str, list[AnyMessage]]:
    last = state["messages"][-1]
    assert isinstance(last, AIMessage)
    return {
        "messages": [
            ToolMessage(
                content="Sunny!",
                name=call["name"],
                tool_call_id=call["id"],
                artifact="weather_search",
            )
            for call in last.tool_calls
        ]
    }


def route_after_llm(state: MessagesState) -> Literal["human_review_node", "__end__"]:
    last = state["messages"][-1]
    return "human_review_node" if isinstance(last, AIMessage) and last.tool_calls else END


builder = StateGraph(MessagesState)
builder.add_node(call_llm)
builder.add_node(run_tool)
builder.add_node(human_review_node)
builder.add_edge(START, "call_llm")
builder.add_conditional_edges("call_llm", route_after_llm)
builder.add_edge("run_tool", "call_llm")
graph = builder.compile()
