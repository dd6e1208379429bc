"""A chat graph with no network: LangChain's fake chat model streams its reply
word by word ("hello", " ", "there", " ", "friend"), then a node writes
custom stream data. The same graph was run on the official server to see how
it frames each stream mode."""

from __future__ import annotations

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langgraph.config import get_stream_writer
from langgraph.graph import START, MessagesState, StateGraph

REPLY = "hello there friend"


async def call_model(state: MessagesState) -> dict[str, list[AIMessage]]:
    model = GenericFakeChatModel(messages=iter([AIMessage(content=REPLY)]))
    return {"messages": [await model.ainvoke(state["messages"])]}


def write_custom(state: MessagesState) -> None:
    writer = get_stream_writer()
    writer({"progress": 1})
    writer("plain string")


builder = StateGraph(MessagesState)
builder.add_node(call_model)
builder.add_node(write_custom)
builder.add_edge(START, "call_model")
builder.add_edge("call_model", "write_custom")
chat = builder.compile()
