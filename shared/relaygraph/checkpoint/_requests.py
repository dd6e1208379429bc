"""What the checkpointer's operations ask of Redis ("sans-IO"): each operation
is a generator that yields these requests and is sent the replies, so one
logic serves the sync and the async saver. Also the small codecs the
operations and the Lua scripts share."""

from __future__ import annotations

from collections.abc import Generator, Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class Call:
    """Run one of the Lua scripts of ``_scripts.SCRIPTS``."""

    script: str
    keys: list[str]
    args: list[Any]


@dataclass(slots=True)
class Cmds:
    """Plain commands sent together (one pipeline, not a transaction). With
    ``then``, that script follows in the same round trip and its reply is the
    request's (on a cluster, where the keys' slots differ, it is sent after)."""

    cmds: list[tuple[Any, ...]]
    then: Call | None = None


@dataclass(slots=True)
class Scan:
    """Every key matching ``pattern`` (on every node of a cluster)."""

    pattern: str


@dataclass(slots=True)
class Emit:
    """An item of a list operation."""

    value: Any


Op = Generator[Any, Any, Any]


def _text(value: Any, what: str) -> str:
    text = value if isinstance(value, str) else str(value)
    if "\x00" in text:
        raise ValueError(f"{what} must not contain a NUL character: {text!r}")
    return text


def _strings(items: Iterable[bytes]) -> bytes:
    """``<len>:<bytes>`` items, the one structure the Lua scripts read."""
    return b"".join(b"%d:%s" % (len(item), item) for item in items)


def _with_refs(refs: bytes, record: bytes) -> bytes:
    """A checkpoint as stored: ``R<len>:<refs>`` then the record (the Lua
    scripts read the refs; an older layout stored the bare record)."""
    return b"R%d:%s%s" % (len(refs), refs, record)


def _record_of(stored: bytes) -> bytes:
    """The record of a stored checkpoint (either layout)."""
    if stored[:1] != b"R":
        return stored
    length, _, rest = stored[1:].partition(b":")
    return rest[int(length) :]


def _pack_typed(typed: tuple[str, bytes]) -> bytes:
    return typed[0].encode() + b"\x00" + typed[1]


def _unpack_typed(raw: bytes) -> tuple[str, bytes]:
    tag, _, data = raw.partition(b"\x00")
    return tag.decode(), data


def _s(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw
