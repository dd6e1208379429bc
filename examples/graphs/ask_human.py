"""Wait for user input (LangGraph guide): the model asks the person a question
through an ``AskHuman`` tool call; the run stops before the ``ask_human`` node
(``interrupt_before`` given at run time); the answer is written into the state
with ``update_state(..., as_node="ask_human")`` and the run continues with
``input=None``.

The model is a deterministic stand-in: no network, no key.
"""

from __future__ import annotations

from typing import Literal

from langchain_core.messages import AIMessage, AnyMessage, ToolMessage
from langgraph.graph import END, START, MessagesState, StateGraph


def agent(state: MessagesState) -> dict[str, list[AnyMessage]]:
    last = state["messages"][-1]
    if isinstance(last, ToolMessage) and last.name == "search":
        return {"messages": [AIMessage(f"Here is what I found: {last.content}")]}
    if isinstance(last, ToolMessage):  # the person's answer to AskHuman
        return {
            "messages": [
                AIMessage(
                    "",
                    tool_calls=[
                        {
                            "name": "search",
                            "args": {"query": f"current weather in {last.content}"},
                            "id": "call_search",
                            "type": "tool_call",
                        }
                    ],
                )
            ]
        }
    return {
        "messages": [
            AIMessage(
                "Let me ask where you are.",
                tool_calls=[
                    {
                        "name": "AskHuman",
                        "args": {"question": "Where are you currently located?"},
                        "id": "call_ask_human",
                        "type": "tool_call",
                    }
                ],
            )
        ]
    }


def ask_human(state: MessagesState) -> None:
    """Nothing to do: the person's answer is added with update_state(as_node=...)."""


def action(state: MessagesState) -> dict[str, list[AnyMessage]]:
    last = state["messages"][-1]
    assert isinstance(last, AIMessage)
    call = last.tool_calls[-1]
    return {
        "messages": [
            ToolMessage(
                content=f"I looked up: {call['args']['query']}. Result: It's sunny.",
                name="search",
                tool_call_id=call["id"],
            )
        ]
    }


def should_continue(state: MessagesState) -> Literal["ask_human", "action", "__end__"]:
    last = state["messages"][-1]
    if not isinstance(last, AIMessage) or not last.tool_calls:
        return END
    return "ask_human" if last.tool_calls[-1]["name"] == "AskHuman" else "action"


builder = StateGraph(MessagesState)
builder.add_node(agent)
builder.add_node(action)
builder.add_node(ask_human)
builder.add_edge(START, "agent")
builder.add_conditional_edges("agent", should_continue)
builder.add_edge("action", "agent")
builder.add_edge("ask_human", "agent")
graph = builder.compile()
