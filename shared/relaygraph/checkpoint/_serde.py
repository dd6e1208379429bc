"""What the Redis checkpointer stores, and what it refuses to load.

Anyone who can write to Redis can write a checkpoint, so loading one must never
run code an attacker chose. Two gates:

1. **Type tags.** Every value is stored with the tag of ``dumps_typed``. Only
   ``msgpack``, ``bytes``, ``bytearray`` and ``null`` (optionally with an
   encryption suffix such as ``msgpack+aes``) are written or read. ``pickle``
   (JsonPlusSerializer's ``pickle_fallback``) and ``json`` (the pre-msgpack
   format, which revives LangChain ``lc`` constructors) are refused on both
   paths, whatever serializer the saver was given.
2. **msgpack extension types.** langgraph-checkpoint 4.3 encodes objects as
   msgpack ext records naming ``(module, name)`` of a constructor to call on
   load. By default (without ``LANGGRAPH_STRICT_MSGPACK``) JsonPlusSerializer
   imports and calls *any* such name; in strict mode it skips unknown names but
   silently hands back their raw payload. :class:`StrictSerializer` (the
   default serde) instead raises :class:`UnsafeCheckpointData` naming the type,
   for any constructor outside langgraph's ``SAFE_MSGPACK_TYPES`` plus the
   allowlist (``allowed_types`` of the saver, or what ``StateGraph.compile``
   derives from the state schema through ``with_allowlist`` when
   ``LANGGRAPH_STRICT_MSGPACK=true``), any method call outside
   ``SAFE_MSGPACK_METHODS`` and any unknown ext code. The same check runs when a
   value is written, so a state that could not be read back fails its run at
   once instead of at the next resume.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

import ormsgpack
from langgraph.checkpoint.serde import _msgpack as lg_msgpack
from langgraph.checkpoint.serde import jsonplus
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

from relaygraph.errors import RelaygraphError

SAFE_TAGS = frozenset({"msgpack", "bytes", "bytearray", "null"})

_CONSTRUCTORS = frozenset(
    {
        jsonplus.EXT_CONSTRUCTOR_SINGLE_ARG,
        jsonplus.EXT_CONSTRUCTOR_POS_ARGS,
        jsonplus.EXT_CONSTRUCTOR_KW_ARGS,
        jsonplus.EXT_PYDANTIC_V1,
        jsonplus.EXT_PYDANTIC_V2,
    }
)
_OPTS = ormsgpack.OPT_NON_STR_KEYS


class UnsafeCheckpointData(RelaygraphError):
    """Stored checkpoint data names a type or format the saver will not load."""

    code = "unsafe_checkpoint_data"
    status = 500


def check_tag(tag: str, doing: str) -> None:
    if tag.split("+", 1)[0] not in SAFE_TAGS:
        raise UnsafeCheckpointData(
            f"refused to {doing} a value serialized as {tag!r}: the Redis checkpointer "
            f"only handles {sorted(SAFE_TAGS)} (never pickle or legacy json)"
        )


_refusal = threading.local()


def _refuse(message: str) -> None:
    # ormsgpack turns any exception raised by an ext hook into a bare
    # ValueError("ext_hook failed"), so the reason travels beside it.
    _refusal.message = message
    raise UnsafeCheckpointData(message)


def _take_refusal() -> str | None:
    message = getattr(_refusal, "message", None)
    _refusal.message = None
    return message


def _checker(allowed: set[tuple[str, ...]] | bool | None) -> Callable[[int, bytes], None]:
    """An ext hook that builds nothing: it walks an ext record (and the ext
    records nested in it) and refuses any that is not allowed."""

    def allowed_type(module: str, name: str) -> bool:
        key = (module, name)
        if key in lg_msgpack.SAFE_MSGPACK_TYPES or allowed is True:
            return True
        return bool(allowed) and key in allowed  # type: ignore[operator]

    def check(code: int, data: bytes) -> None:
        if code == jsonplus.EXT_NUMPY_ARRAY:
            return None  # dtype, shape, order, raw buffer: no constructor is called
        tup = ormsgpack.unpackb(data, ext_hook=check, option=_OPTS)
        if code in _CONSTRUCTORS:
            module, name = str(tup[0]), str(tup[1])
            if not allowed_type(module, name):
                _refuse(
                    f"checkpoint data names {module}.{name}, which is not an allowed "
                    f"type: refused. Allow it with allowed_types=[{module}.{name}] on the "
                    f"saver (or saver.with_allowlist([({module!r}, {name!r})]))"
                )
        elif code == jsonplus.EXT_METHOD_SINGLE_ARG:
            key = (str(tup[0]), str(tup[1]), str(tup[3]))
            if key not in lg_msgpack.SAFE_MSGPACK_METHODS:
                _refuse(f"checkpoint data calls {'.'.join(key)}, which is not allowed: refused")
        elif code != jsonplus.EXT_DELTA_SNAPSHOT:
            _refuse(f"checkpoint data holds unknown msgpack extension type {code}: refused")
        return None

    return check


def _guarded(inner: Callable[[int, bytes], Any], allowed: Any) -> Callable[[int, bytes], Any]:
    check = _checker(allowed)

    def hook(code: int, data: bytes) -> Any:
        check(code, data)
        return inner(code, data)

    return hook


class StrictSerializer(JsonPlusSerializer):
    """JsonPlusSerializer without pickle, whose msgpack loads refuse (raise) on
    any type outside langgraph's safe set and the allowlist."""

    def __init__(self, *, allowed_types: Iterable[tuple[str, ...] | type] | None = None) -> None:
        allowed = tuple(allowed_types or ())
        super().__init__(pickle_fallback=False, allowed_msgpack_modules=allowed or None)
        self._arm()

    def _arm(self) -> None:
        allowed = self._allowed_msgpack_modules
        self._unpack_ext_hook = _guarded(self._unpack_ext_hook, allowed)
        self._check_hook = _checker(allowed)

    def with_msgpack_allowlist(
        self, extra_allowlist: Iterable[tuple[str, ...] | type]
    ) -> JsonPlusSerializer:
        clone = super().with_msgpack_allowlist(extra_allowlist)
        if clone is not self and isinstance(clone, StrictSerializer):
            clone._arm()  # the parent rebuilt an unguarded hook for the clone
        return clone

    def dumps_typed(self, obj: Any) -> tuple[str, bytes]:
        tag, data = super().dumps_typed(obj)
        if tag == "msgpack":
            self._decode(lambda: ormsgpack.unpackb(data, ext_hook=self._check_hook, option=_OPTS))
        return tag, data

    def loads_typed(self, data: tuple[str, bytes]) -> Any:
        check_tag(data[0], "load")
        return self._decode(lambda: super(StrictSerializer, self).loads_typed(data))

    @staticmethod
    def _decode(fn: Callable[[], Any]) -> Any:
        _take_refusal()
        try:
            return fn()
        except UnsafeCheckpointData:
            raise
        except ValueError:
            message = _take_refusal()
            if message is not None:
                raise UnsafeCheckpointData(message) from None
            raise


def graph_allowlist(graph: Any) -> set[tuple[str, ...]]:
    """The msgpack types a compiled ``StateGraph`` (and its subgraphs) keep in
    state: what ``compile()`` derives itself only under
    ``LANGGRAPH_STRICT_MSGPACK=true``. Use it as
    ``builder.compile(checkpointer=saver.with_allowlist(graph_allowlist(graph)))``
    or pass it as ``allowed_types`` so a graph with pydantic models,
    dataclasses or enums in its state can be checkpointed."""
    from langgraph._internal import _serde as lg_serde

    allowed: set[tuple[str, ...]] = set()
    graphs = [graph, *(sub for _, sub in graph.get_subgraphs(recurse=True))]
    for compiled in graphs:
        builder = getattr(compiled, "builder", None)
        if builder is None or not hasattr(builder, "state_schema"):
            continue
        schemas = [builder.state_schema, builder.input_schema, builder.output_schema]
        schemas.append(getattr(builder, "context_schema", None))
        schemas += [node.input_schema for node in builder.nodes.values()]
        for branches in builder.branches.values():
            schemas += [b.input_schema for b in branches.values() if b.input_schema is not None]
        allowed |= lg_serde.build_serde_allowlist(
            schemas=[s for s in schemas if s is not None], channels=builder.channels
        )
    return allowed
