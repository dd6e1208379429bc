"""The AsyncAPI document of relaygraph's public NATS contracts: the interrupt
events reviewers subscribe to, and the resume request they answer with.
FastStream generates it from a broker that declares the two (never
connected), with the payload schemas taken from the wire types in
``relaygraph.contracts`` and the addresses from ``relaygraph.subjects`` (the
names the services use, so another prefix or subject shows here too); the
gateway serves it at ``/asyncapi.json``.
"""

from __future__ import annotations

import functools
import typing
from typing import Any

import msgspec
from faststream.nats import NatsBroker
from faststream.specification import AsyncAPI
from pydantic import BaseModel, create_model

from relaygraph.contracts import (
    ErrorReply,
    InterruptEvent,
    ResumeReply,
    ResumeRequest,
)
from relaygraph.streams import INTERRUPTS_MAX_AGE
from relaygraph.subjects import Subjects

_PREFIX = Subjects().prefix


@functools.cache
def _model(struct: type[msgspec.Struct]) -> type[BaseModel]:
    """A pydantic model with the fields of a wire type (FastStream's schema
    generator reads pydantic), nested wire types converted too."""
    fields: dict[str, Any] = {}
    hints = typing.get_type_hints(struct)
    for f in msgspec.structs.fields(struct):
        annotation = _annotation(hints[f.name])
        default = ... if f.required else (None if f.default is msgspec.NODEFAULT else f.default)
        fields[f.name] = (annotation, default)
    model: type[BaseModel] = create_model(struct.__name__, __doc__=struct.__doc__, **fields)
    return model


def _annotation(hint: Any) -> Any:
    if isinstance(hint, type) and issubclass(hint, msgspec.Struct):
        return _model(hint)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is not None and args:
        converted = tuple(_annotation(a) for a in args)
        if origin is typing.Union or str(origin) == "<class 'types.UnionType'>":
            return typing.Union[converted]  # noqa: UP007 - built at run time
        return origin[converted] if len(converted) > 1 else origin[converted[0]]
    return hint


def document(prefix: str = _PREFIX, version: str = "0.1.0") -> dict[str, Any]:
    """The AsyncAPI 3.0 document, as JSON-able data."""
    return specification(prefix, version).to_jsonable()  # type: ignore[no-any-return]


def specification(prefix: str = _PREFIX, version: str = "0.1.0") -> Any:
    """FastStream's specification object of the contracts (for its HTML page)."""
    subjects = Subjects(prefix)
    broker = NatsBroker()
    broker.publisher(
        # The builders with AsyncAPI's parameters for the ids.
        subjects.interrupts("{graph_id}", "{thread_id}"),
        title="interrupt events",
        description=(
            "Every pause of a graph on interrupt(), into the JetStream stream "
            f"{subjects.interrupts_stream} (kept {INTERRUPTS_MAX_AGE / 86400:g} days); "
            "header Nats-Msg-Id = "
            "<thread_id>:<checkpoint_id>. Subscribe with a durable consumer; ack once "
            "recorded."
        ),
        schema=_model(InterruptEvent),
    )
    request, reply, error = _model(ResumeRequest), _model(ResumeReply), _model(ErrorReply)

    async def resume(body: request) -> reply | error:  # type: ignore[valid-type]
        raise NotImplementedError  # pragma: no cover - served by the gateway

    broker.subscriber(
        subjects.resume("{thread_id}"),
        title="resume",
        description=(
            "Request/reply. Name the pause the resume answers: interrupt_id, a map "
            "{interrupt_id: value} as resume, or the event's checkpoint_id. A retry of a "
            "request returns the run that answered; errors come back as {error: {code, "
            "message}}."
        ),
    )(resume)
    spec = AsyncAPI(
        broker,
        title="relaygraph NATS contracts",
        version=version,
        description="What reviewer services (chat bots, inboxes, policies) use.",
        schema_version="3.0.0",
    )
    return spec.to_specification()
