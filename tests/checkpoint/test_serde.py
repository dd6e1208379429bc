"""Stored data never reaches pickle, and unknown types are refused loudly."""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from uuid import UUID, uuid4

import ormsgpack
import pytest
import redis.asyncio
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.serde import jsonplus
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.types import Interrupt, Send

from relaygraph.checkpoint import AsyncRedisSaver, StrictSerializer, UnsafeCheckpointData
from relaygraph.keys import Keys
from tests.checkpoint.checkpoint_helpers import checkpoint, config

PWNED: list[str] = []


def _pwn(note: str) -> None:
    PWNED.append(note)


class Evil:
    def __reduce__(self) -> tuple:
        return (_pwn, ("unpickled",))


@dataclass
class Point:
    x: int
    y: int


class Color(Enum):
    RED = "red"


def _ext(code: int, *parts: object) -> bytes:
    return ormsgpack.packb({"v": ormsgpack.Ext(code, ormsgpack.packb(list(parts)))})


async def _stored(saver: AsyncRedisSaver, thread: str) -> dict:
    cfg = await saver.aput(
        config(thread), checkpoint({"a": "fine"}, {"a": 1}), {"step": 0}, {"a": 1}
    )
    await saver.aput_writes(cfg, [("w", "fine")], "task")
    return cfg


async def test_tampered_pickle_blob_is_refused(
    saver: AsyncRedisSaver, aclient: redis.asyncio.Redis, prefix: str
) -> None:
    await _stored(saver, "tamper")
    blobs = Keys(prefix).checkpoint_blobs("tamper")
    await aclient.hset(blobs, "\x00a\x001", b"pickle\x00" + pickle.dumps(Evil()))
    with pytest.raises(UnsafeCheckpointData, match="pickle"):
        await saver.aget_tuple(config("tamper"))
    with pytest.raises(UnsafeCheckpointData):
        _ = [t async for t in saver.alist(config("tamper"))]
    await aclient.hset(
        blobs,
        "\x00a\x001",
        b"json\x00" + b'{"lc": 2, "type": "constructor", "id": ["os", "system"]}',
    )
    with pytest.raises(UnsafeCheckpointData, match="json"):
        await saver.aget_tuple(config("tamper"))
    assert PWNED == []


async def test_tampered_pending_write_is_refused(
    saver: AsyncRedisSaver, aclient: redis.asyncio.Redis, prefix: str
) -> None:
    cfg = await _stored(saver, "tamper-w")
    keys = Keys(prefix)
    (member,) = await aclient.zrange(keys.checkpoint_write_ids("tamper-w"), 0, -1)
    evil = ormsgpack.packb(["task", "w", "pickle", pickle.dumps(Evil()), "", 0])
    await aclient.hset(keys.checkpoint_writes("tamper-w"), member, evil)
    with pytest.raises(UnsafeCheckpointData):
        await saver.aget_tuple(cfg)
    assert PWNED == []


@pytest.mark.parametrize(
    "payload",
    [
        _ext(jsonplus.EXT_CONSTRUCTOR_POS_ARGS, "os", "system", ["echo pwned"]),
        _ext(jsonplus.EXT_CONSTRUCTOR_SINGLE_ARG, "builtins", "eval", "1+1"),
        _ext(jsonplus.EXT_PYDANTIC_V2, "subprocess", "Popen", {"args": "x"}, "model_validate_json"),
        _ext(jsonplus.EXT_METHOD_SINGLE_ARG, "os", "popen", "id", "read"),
        _ext(42, "anything"),
        # hidden one level down, inside an allowed type
        ormsgpack.packb(
            ormsgpack.Ext(
                jsonplus.EXT_CONSTRUCTOR_SINGLE_ARG,
                ormsgpack.packb(
                    [
                        "builtins",
                        "set",
                        [
                            ormsgpack.Ext(
                                jsonplus.EXT_CONSTRUCTOR_SINGLE_ARG,
                                ormsgpack.packb(["os", "system", "x"]),
                            )
                        ],
                    ]
                ),
            )
        ),
    ],
    ids=["os.system", "eval", "pydantic-popen", "method", "unknown-ext", "nested"],
)
async def test_unsafe_msgpack_types_are_refused(
    saver: AsyncRedisSaver, aclient: redis.asyncio.Redis, prefix: str, payload: bytes
) -> None:
    thread = uuid4().hex
    await _stored(saver, thread)
    await aclient.hset(
        Keys(prefix).checkpoint_blobs(thread), "\x00a\x001", b"msgpack\x00" + payload
    )
    with pytest.raises(UnsafeCheckpointData, match="refused"):
        await saver.aget_tuple(config(thread))


async def test_unknown_type_refused_when_written_allowed_when_listed(
    aclient: redis.asyncio.Redis, prefix: str
) -> None:
    strict = AsyncRedisSaver(aclient, key_prefix=prefix)
    value = {"p": Point(1, 2), "c": Color.RED}
    with pytest.raises(UnsafeCheckpointData, match="Point"):
        await strict.aput(config("custom"), checkpoint({"v": value}, {"v": 1}), {}, {"v": 1})
    assert await strict.aget_tuple(config("custom")) is None

    for saver in (
        AsyncRedisSaver(aclient, key_prefix=prefix, allowed_types=[Point, Color]),
        strict.with_allowlist([(Point.__module__, "Point"), (Color.__module__, "Color")]),
    ):
        thread = uuid4().hex
        await saver.aput(config(thread), checkpoint({"v": value}, {"v": 1}), {}, {"v": 1})
        assert (await saver.aget_tuple(config(thread))).checkpoint["channel_values"] == {"v": value}
        # the allowlist is the saver's: the strict one still refuses the data
        with pytest.raises(UnsafeCheckpointData):
            await strict.aget_tuple(config(thread))


async def test_safe_types_round_trip(saver: AsyncRedisSaver) -> None:
    value = {
        "when": datetime(2024, 5, 1, 12, 0, tzinfo=UTC),
        "id": UUID(int=7),
        "tags": {"a", "b"},
        "messages": [HumanMessage("hi", id="1"), AIMessage("yo", id="2")],
        "send": Send("node", {"x": 1}),
        "interrupt": Interrupt(value="q", id="i1"),
        "raw": b"\x00\xff",
        "none": None,
    }
    await saver.aput(
        config("safe"), checkpoint(value, dict.fromkeys(value, 1)), {}, dict.fromkeys(value, 1)
    )
    tup = await saver.aget_tuple(config("safe"))
    assert tup.checkpoint["channel_values"] == value


async def test_pickle_never_written_even_by_a_pickling_serde(
    aclient: redis.asyncio.Redis, prefix: str
) -> None:
    saver = AsyncRedisSaver(
        aclient, key_prefix=prefix, serde=JsonPlusSerializer(pickle_fallback=True)
    )
    with pytest.raises(UnsafeCheckpointData, match="pickle"):
        await saver.aput(config("p"), checkpoint({"v": object()}, {"v": 1}), {}, {"v": 1})
    assert await saver.aget_tuple(config("p")) is None


def test_strict_serializer_defaults() -> None:
    serde = StrictSerializer()
    assert serde.pickle_fallback is False
    assert serde.loads_typed(serde.dumps_typed({"a": [1, "x"]})) == {"a": [1, "x"]}
    with pytest.raises(UnsafeCheckpointData):
        serde.loads_typed(("pickle", pickle.dumps(Evil())))
    assert PWNED == []
