"""The checkpointer's logic, written once for the sync and the async saver.

Each operation is a generator ("sans-IO"): it yields a request (:class:`Call`,
:class:`Cmds`, :class:`Scan`), is sent the reply, and returns its result; list
operations also yield :class:`Emit` items. ``sync.py`` and ``aio.py`` only
execute requests.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from typing import Any

import ormsgpack
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    get_checkpoint_id,
    get_checkpoint_metadata,
    writes_sort_key,
)
from langgraph.checkpoint.serde.base import SerializerProtocol

from relaygraph.checkpoint._listing import ListCursor
from relaygraph.checkpoint._requests import (
    Call,
    Cmds,
    Emit,
    Op,
    Scan,
    _pack_typed,
    _record_of,
    _s,
    _strings,
    _text,
    _unpack_typed,
    _with_refs,
)
from relaygraph.checkpoint._serde import StrictSerializer, check_tag
from relaygraph.errors import StaleEpoch
from relaygraph.keys import Keys

FENCING_TOKEN = "fencing_token"
LIST_PAGE = 100


MISS = object()
"""``_cached_latest``: not known without asking Redis."""

__all__ = ["FENCING_TOKEN", "MISS", "RedisSaverCore"]


class RedisSaverCore(BaseCheckpointSaver[str]):
    """Shared state and operations of :class:`RedisSaver` and
    :class:`AsyncRedisSaver`; see the package docstring."""

    def __init__(
        self,
        *,
        key_prefix: str = "rg",
        ttl: float | None = None,
        serde: SerializerProtocol | None = None,
        allowed_types: Iterable[tuple[str, ...] | type] | None = None,
    ) -> None:
        if serde is not None and allowed_types is not None:
            raise ValueError("pass allowed_types or serde, not both")
        super().__init__(serde=serde or StrictSerializer(allowed_types=allowed_types))
        if ttl is not None and ttl <= 0:
            raise ValueError("ttl must be a positive number of seconds, or None")
        self.keys = Keys(key_prefix)
        self.ttl = ttl
        self._ttl_ms = str(max(1, int(ttl * 1000))) if ttl else ""

    # -- hooks of a saver that remembers what an attempt read and wrote ----------
    # (``relaygraph_executor.attempts``). Here they remember nothing.
    def _cached_latest(self, thread_id: str, token: str) -> Any:
        """The latest root checkpoint as a read would load it, if known
        without Redis (``[]``: the thread has none), else :data:`MISS`."""
        return MISS

    def _seen_latest(self, thread_id: str, token: str, loaded: Any) -> None:
        """A read of the latest root checkpoint under ``token`` loaded this."""

    def _seen_put(
        self,
        thread_id: str,
        token: str,
        field: str,
        record: bytes,
        versions: dict[str, Any],
        new_blobs: dict[str, bytes | None],
    ) -> None:
        """A root checkpoint was written under ``token``."""

    def _seen_writes(self, thread_id: str, token: str, field: str, args: list[Any]) -> None:
        """Pending writes of a root checkpoint were written under ``token``
        (``args``: the put_writes script's, three per write after two)."""

    def _unsure(self, thread_id: str) -> None:
        """A write to the thread failed or was cut off, or its checkpoints
        changed another way: nothing remembered of it holds."""

    # -- values ------------------------------------------------------------------
    def _dumps(self, obj: Any) -> bytes:
        typed = self.serde.dumps_typed(obj)
        check_tag(typed[0], "store")
        return _pack_typed(typed)

    def _loads(self, raw: bytes) -> Any:
        typed = _unpack_typed(raw)
        check_tag(typed[0], "load")
        return self.serde.loads_typed(typed)

    def get_next_version(self, current: str | None, channel: None = None) -> str:
        """``<32-digit counter>.<random>``: increasing like InMemorySaver's, and
        unique across forks of one parent (the random part)."""
        if current is None:
            counter = 0
        elif isinstance(current, (int, float)):
            counter = int(current)
        else:
            counter = int(str(current).split(".", 1)[0])
        return f"{counter + 1:032}.{random.random():016}"

    # -- config ------------------------------------------------------------------
    def _thread(self, conf: dict[str, Any]) -> str:
        thread_id = _text(conf["thread_id"], "thread_id")
        if not thread_id:
            raise ValueError("thread_id must not be empty")
        return thread_id

    def _tkeys(self, thread_id: str) -> list[str]:
        return self.keys.checkpoint_thread_keys(thread_id)

    @staticmethod
    def _token(conf: dict[str, Any]) -> str:
        token = conf.get(FENCING_TOKEN)
        if token is None:
            return ""
        if isinstance(token, bool) or not isinstance(token, (int, str)):
            raise TypeError(f"{FENCING_TOKEN} must be an int, got {type(token).__name__}")
        return str(int(token))

    @staticmethod
    def _fenced(result: Any, thread_id: str, token: str) -> None:
        if result and int(result[0]) == 0:
            current = _s(result[1]) or "none"
            raise StaleEpoch(
                f"thread {thread_id}: write refused, fencing token {token} is not the "
                f"thread's current epoch ({current})"
            )

    def _metadata(self, config: RunnableConfig, metadata: CheckpointMetadata) -> dict[str, Any]:
        conf = config.get("configurable") or {}
        if FENCING_TOKEN in conf:
            rest = {k: v for k, v in conf.items() if k != FENCING_TOKEN}
            config = {**config, "configurable": rest}
        return dict(get_checkpoint_metadata(config, metadata))

    # -- tuples ------------------------------------------------------------------
    def _tuple(
        self, thread_id: str, loaded: list[Any], record: bytes | None = None
    ) -> CheckpointTuple:
        field, raw_record, blobs, writes = loaded
        ns, cid = _s(field).rsplit("\x00", 1)
        cp_tag, cp_data, md_tag, md_data, parent = ormsgpack.unpackb(
            _record_of(record or raw_record)
        )
        checkpoint: Checkpoint = self._loads(_pack_typed((cp_tag, cp_data)))
        values: dict[str, Any] = {}
        for i in range(0, len(blobs), 2):
            if blobs[i + 1] is not None:
                channel = blobs[i].partition(b"\x00")[0].decode()
                values[channel] = self._loads(blobs[i + 1])
        pending = []
        for raw in writes:
            if raw is None:
                continue
            task_id, channel, tag, data, task_path, idx = ormsgpack.unpackb(raw)
            pending.append(
                (writes_sort_key(task_path, task_id, idx), (tag, data), task_id, channel)
            )
        pending.sort(key=lambda w: w[0])

        def conf(checkpoint_id: str) -> RunnableConfig:
            return {
                "configurable": {
                    "thread_id": thread_id,
                    "checkpoint_ns": ns,
                    "checkpoint_id": checkpoint_id,
                }
            }

        return CheckpointTuple(
            config=conf(cid),
            checkpoint={**checkpoint, "channel_values": values},
            metadata=self._loads(_pack_typed((md_tag, md_data))),
            parent_config=conf(parent) if parent else None,
            pending_writes=[
                (task_id, channel, self._loads(_pack_typed(typed)))
                for _, typed, task_id, channel in pending
            ],
        )

    # -- operations --------------------------------------------------------------
    def _op_get_tuple(self, config: RunnableConfig) -> Op:
        conf = config["configurable"]
        thread_id = self._thread(conf)
        ns = _text(conf.get("checkpoint_ns", ""), "checkpoint_ns")
        cid = _text(get_checkpoint_id(config) or "", "checkpoint_id")
        token = self._token(conf) if not cid and not ns else ""
        if token and (cached := self._cached_latest(thread_id, token)) is not MISS:
            return self._tuple(thread_id, cached) if cached else None
        loaded = yield Call("get", self._tkeys(thread_id), [ns, cid])
        if token:
            self._seen_latest(thread_id, token, loaded)
        return self._tuple(thread_id, loaded) if loaded else None

    def _op_put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> Op:
        conf = config["configurable"]
        thread_id = self._thread(conf)
        ns = _text(conf.get("checkpoint_ns", ""), "checkpoint_ns")
        cid = _text(checkpoint["id"], "checkpoint id")
        token = self._token(conf)
        stored: dict[str, Any] = dict(checkpoint)
        values: dict[str, Any] = stored.pop("channel_values", {})
        blob_args: list[Any] = []
        written: list[str] = []
        for channel, version in new_versions.items():
            if channel in values:
                name = _text(channel, "channel name")
                blob_args += [f"{ns}\x00{name}\x00{version}", self._dumps(values[channel])]
                written.append(channel)
        refs = [
            f"{_text(channel, 'channel name')}\x00{version}".encode()
            for channel, version in stored["channel_versions"].items()
        ]
        md = self._metadata(config, metadata)
        run_id = _text(md.get("run_id") or "", "run_id")
        field = f"{ns}\x00{cid}"
        record = ormsgpack.packb(
            [
                *_unpack_typed(self._dumps(stored)),
                *_unpack_typed(self._dumps(md)),
                conf.get("checkpoint_id"),
            ]
        )
        value = _with_refs(_strings([run_id.encode(), *refs]), record)
        put = Call("put", self._tkeys(thread_id), [token, self._ttl_ms, field, value, *blob_args])
        try:
            result = yield put
            self._fenced(result, thread_id, token)
        except BaseException:
            self._unsure(thread_id)
            raise
        if token and not ns:
            new_blobs: dict[str, bytes | None] = {c: None for c in new_versions}
            new_blobs.update(zip(written, blob_args[1::2], strict=True))
            self._seen_put(thread_id, token, field, value, stored["channel_versions"], new_blobs)
        return {"configurable": {"thread_id": thread_id, "checkpoint_ns": ns, "checkpoint_id": cid}}

    def _op_put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str,
    ) -> Op:
        if not writes:
            return None
        conf = config["configurable"]
        thread_id = self._thread(conf)
        ns = _text(conf.get("checkpoint_ns", ""), "checkpoint_ns")
        cid = _text(conf["checkpoint_id"], "checkpoint_id")
        token = self._token(conf)
        task_id = _text(task_id, "task_id")
        args: list[Any] = [token, self._ttl_ms]
        for i, (channel, value) in enumerate(writes):
            idx = WRITES_IDX_MAP.get(channel, i)
            tag, data = _unpack_typed(self._dumps(value))
            args += [
                f"{ns}\x00{cid}\x00{task_id}\x00{idx}",
                ormsgpack.packb([task_id, channel, tag, data, task_path, idx]),
                "s" if idx < 0 else "n",
            ]
        try:
            result = yield Call("put_writes", self._tkeys(thread_id), args)
            self._fenced(result, thread_id, token)
        except BaseException:
            self._unsure(thread_id)
            raise
        if token and not ns:
            self._seen_writes(thread_id, token, f"{ns}\x00{cid}", args)
        return None

    def _op_list(
        self,
        config: RunnableConfig | None,
        filter: dict[str, Any] | None,
        before: RunnableConfig | None,
        limit: int | None,
    ) -> Op:
        if limit is not None and limit <= 0:
            return
        if config is None:
            found = yield Scan(self.keys.checkpoint_ids_pattern())
            threads = sorted({t for k in found if (t := self.keys.thread_of_checkpoint_ids(_s(k)))})
        else:
            threads = [self._thread(config["configurable"])]
        conf = (config or {}).get("configurable", {})
        ns = conf.get("checkpoint_ns")
        ns = None if ns is None else _text(ns, "checkpoint_ns")
        cid = get_checkpoint_id(config) if config else None
        before_id = get_checkpoint_id(before) if before else None
        left = limit
        for thread_id in threads:
            keys = self._tkeys(thread_id)
            cursor = ListCursor(keys[0], ns, cid, before_id)
            done = False
            while not done:
                page = LIST_PAGE if filter or left is None else min(left, LIST_PAGE)
                fields, done = yield from cursor.next_page(page)
                records: list[Any] = [None] * len(fields)
                if filter and fields:
                    fields, records = yield from self._filtered(keys[1], fields, filter)
                if not fields:
                    continue
                loaded = yield Call("load", keys, ["0" if filter else "1", *fields])
                for item, record in zip(loaded, records, strict=True):
                    if not item:
                        continue
                    yield Emit(self._tuple(thread_id, item, record))
                    if left is not None:
                        left -= 1
                        if left <= 0:
                            return

    def _filtered(self, records_key: str, fields: list[str], filter: dict[str, Any]) -> Op:
        """The fields whose metadata matches ``filter``, and their records."""
        (raw,) = yield Cmds([("HMGET", records_key, *fields)])
        kept = [
            (f, r)
            for f, r in zip(fields, raw, strict=True)
            if r is not None and self._matches(r, filter)
        ]
        return [f for f, _ in kept], [r for _, r in kept]

    def _matches(self, stored: bytes, filter: dict[str, Any]) -> bool:
        _, _, md_tag, md_data, _ = ormsgpack.unpackb(_record_of(stored))
        md = self._loads(_pack_typed((md_tag, md_data)))
        return all(md.get(k) == v for k, v in filter.items())
