"""The executor's saver: it remembers what each run attempt read and wrote.

While a fencing token is current only its holder can write the thread (the
checkpointer's scripts refuse any other), so the saver keeps the latest root
checkpoint as the attempt read and wrote it, the very bytes Redis holds, and
answers the attempt's own reads of it without a round trip. A write that
fails or is cut off, or any other change of the thread's checkpoints, drops
it. The claim brings the attempt's first read (``Claim.latest``, given to
:meth:`seed`); :meth:`base` is what it started from, for a rollback.

Every graph's saver (``with_allowlist`` makes one per graph) shares one
:class:`AttemptCache`, given to it explicitly, and with it the attempt's
writes not sent yet (:mod:`relaygraph_executor.write_behind`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import ormsgpack
from langchain_core.runnables import RunnableConfig

from relaygraph import metrics
from relaygraph.checkpoint import AsyncRedisSaver
from relaygraph.checkpoint._requests import Call, Cmds, Scan
from relaygraph_executor.write_behind import WriteBehind


def _s(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw


def _write_member(field: str, raw: bytes) -> str:
    """The key a pending write is stored under (as ``put_writes`` names it)."""
    task_id, _channel, _tag, _data, _path, idx = ormsgpack.unpackb(raw)
    return f"{field}\x00{task_id}\x00{idx}"


@dataclass(slots=True)
class Attempt:
    """The latest root checkpoint of a thread as one token read and wrote it.
    ``base``: what the attempt first read (the checkpoint and its pending
    write keys)."""

    token: str
    field: str
    record: bytes
    blobs: dict[str, tuple[str, bytes | None]]  # channel -> (version, blob)
    # checkpoint field -> write member -> stored write. Not only the latest
    # checkpoint's: a task's writes may reach Redis before the put of its
    # checkpoint does (durability "async" saves the checkpoint meanwhile).
    writes: dict[str, dict[str, bytes]]
    base: tuple[RunnableConfig | None, set[bytes]]

    def loaded(self) -> list[Any]:
        """As the checkpointer's ``get`` script replies (``[]``: no checkpoint)."""
        if not self.field:
            return []
        flat: list[Any] = []
        for channel, (version, blob) in self.blobs.items():
            flat += [f"{channel}\x00{version}".encode(), blob]
        writes = list(self.writes.get(self.field, {}).values())
        return [self.field.encode(), self.record, flat, writes]


class AttemptCache:
    """Thread id -> the current attempt's view of it; and its writes held."""

    def __init__(self) -> None:
        self.threads: dict[str, Attempt] = {}
        self.behind: WriteBehind | None = None


class AttemptSaver(AsyncRedisSaver):
    """``AsyncRedisSaver`` that answers an attempt's reads of its latest
    checkpoint from what the attempt read and wrote."""

    def __init__(
        self,
        *args: Any,
        cache: AttemptCache | None = None,
        write_window: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.cache = cache or AttemptCache()
        if self.cache.behind is None:
            self.cache.behind = WriteBehind(self._send_batch, write_window)

    @property
    def behind(self) -> WriteBehind:
        assert self.cache.behind is not None
        return self.cache.behind

    def with_allowlist(self, extra_allowlist: Any) -> Any:
        clone = super().with_allowlist(extra_allowlist)
        assert isinstance(clone, AttemptSaver)
        clone.cache = self.cache  # one attempt, whichever graph's saver serves it
        return clone

    # -- what the runner calls ---------------------------------------------------
    def latest_call(self, thread_id: str) -> Call:
        """The read of the thread's latest root checkpoint (the claim does the
        same); its reply goes to :meth:`seed`."""
        return Call("get", self._tkeys(thread_id), ["", ""])

    def seed(
        self, thread_id: str, token: int | str, loaded: Any, hold_writes: bool = False
    ) -> None:
        """Start an attempt's memory with its first read (the claim's, or
        :meth:`latest_call`'s reply);
        with ``hold_writes``, its checkpoint writes go to Redis in batches."""
        self._seen_latest(thread_id, str(int(token)), loaded)
        if hold_writes:
            self.behind.hold(thread_id, self._tkeys(thread_id), str(int(token)))

    async def take_held(self, thread_id: str) -> tuple[Any, list[Any]]:
        """The attempt's writes of ``thread_id`` not sent yet, for the finish
        script to write (:meth:`WriteBehind.take`)."""
        return await self.behind.take(self._tkeys(thread_id))

    async def flush(self, thread_id: str) -> None:
        """Send the attempt's held writes of ``thread_id`` and wait for Redis;
        :class:`relaygraph.errors.StaleEpoch` if its token is not current."""
        await self.behind.flush(thread_id)

    def base(
        self, thread_id: str, token: int | str
    ) -> tuple[RunnableConfig | None, set[bytes]] | None:
        """The root checkpoint (config, pending write keys) the attempt started
        from, as its first read found it; ``None`` if it read nothing yet."""
        att = self.cache.threads.get(thread_id)
        return att.base if att is not None and att.token == str(int(token)) else None

    def forget(self, thread_id: str, token: int | str | None = None) -> None:
        """The attempt ended: drop what is kept of ``thread_id`` (of that token only)."""
        att = self.cache.threads.get(thread_id)
        if att is not None and (token is None or att.token == str(int(token))):
            self.cache.threads.pop(thread_id, None)
        keys = self._tkeys(thread_id)
        if token is None or self.behind.token_of(keys) == str(int(token)):
            self.behind.release(keys)

    # -- held writes ---------------------------------------------------------------
    async def _send_batch(self, thread_id: str, keys: list[str], args: list[Any]) -> None:
        try:
            with metrics.timed(metrics.CHECKPOINT_SECONDS, "flush"):
                result = await super()._exec(Call("batch", keys, args))
            self._fenced(result, thread_id, str(args[0]))
        except BaseException:
            self._unsure(thread_id)
            raise

    async def _exec(self, req: Any) -> Any:
        behind = self.behind
        if isinstance(req, Call) and behind.takes(req):
            await behind.add(self._known_new(req) if req.script == "put_writes" else req)
            return [1]
        # Anything else sees Redis as the attempt left it.
        if isinstance(req, Scan):
            await behind.flush_all()
        elif isinstance(req, Call):
            await behind.flush_keys(req.keys)
        elif isinstance(req, Cmds):
            await behind.flush_keys([cmd[1] for cmd in req.cmds if len(cmd) > 1])
            if req.then is not None:
                await behind.flush_keys(req.then.keys)
        return await super()._exec(req)

    def _known_new(self, call: Call) -> Call:
        """``call`` (held writes) with each keep-first write the attempt knows
        to be new marked ``f``: the batch then sets it without reading first.
        Known: the attempt read the checkpoint's writes at its start or put the
        checkpoint itself, and saw every write since (nobody else may write
        the thread under its fencing token)."""
        thread_id = self.behind.thread_of(call.keys)
        att = self.cache.threads.get(thread_id) if thread_id else None
        if att is None or att.token != str(call.args[0]):
            return call
        args = list(call.args)
        for i in range(2, len(args), 3):
            member = args[i]
            field = member.rsplit("\x00", 2)[0]
            if (
                args[i + 2] == "n"
                and field >= att.field
                and member not in att.writes.get(field, {})
            ):
                args[i + 2] = "f"
        return Call(call.script, call.keys, args)

    async def aget_tuple(self, config: RunnableConfig) -> Any:
        with metrics.timed(metrics.CHECKPOINT_SECONDS, "read"):
            return await super().aget_tuple(config)

    async def aput(self, config: RunnableConfig, *args: Any, **kwargs: Any) -> RunnableConfig:
        with metrics.timed(metrics.CHECKPOINT_SECONDS, "write"):
            return await super().aput(config, *args, **kwargs)

    async def aput_writes(self, config: RunnableConfig, *args: Any, **kwargs: Any) -> None:
        with metrics.timed(metrics.CHECKPOINT_SECONDS, "write"):
            await super().aput_writes(config, *args, **kwargs)

    async def apending_write_keys(self, config: RunnableConfig) -> set[bytes]:
        await self.behind.flush(str(config["configurable"]["thread_id"]))
        return await super().apending_write_keys(config)

    async def adelete_pending_writes(self, config: RunnableConfig, keys: set[bytes]) -> None:
        await self.behind.flush(str(config["configurable"]["thread_id"]))
        await super().adelete_pending_writes(config, keys)

    # -- the checkpointer's hooks ----------------------------------------------------
    def _cached_latest(self, thread_id: str, token: str) -> Any:
        att = self.cache.threads.get(thread_id)
        if att is None or att.token != token:
            return super()._cached_latest(thread_id, token)
        return att.loaded()

    def _seen_latest(self, thread_id: str, token: str, loaded: Any) -> None:
        threads = self.cache.threads
        if (att := threads.get(thread_id)) is not None and att.token == token:
            return  # the attempt's first read is its base
        if not loaded:
            threads[thread_id] = Attempt(token, "", b"", {}, {}, (None, set()))
            return
        field_raw, record, flat, raw_writes = loaded
        field = _s(field_raw)
        blobs: dict[str, tuple[str, bytes | None]] = {}
        for i in range(0, len(flat), 2):
            channel, _, version = _s(flat[i]).partition("\x00")
            blobs[channel] = (version, flat[i + 1])
        writes = {_write_member(field, raw): raw for raw in raw_writes if raw is not None}
        ns, cid = field.rsplit("\x00", 1)
        base: RunnableConfig = {
            "configurable": {"thread_id": thread_id, "checkpoint_ns": ns, "checkpoint_id": cid}
        }
        threads[thread_id] = Attempt(
            token, field, record, blobs, {field: writes}, (base, {w.encode() for w in writes})
        )

    def _seen_put(
        self,
        thread_id: str,
        token: str,
        field: str,
        record: bytes,
        versions: dict[str, Any],
        new_blobs: dict[str, bytes | None],
    ) -> None:
        threads = self.cache.threads
        att = threads.get(thread_id)
        if att is None or att.token != token or field < att.field:
            # Not read first under this token, or an id that does not sort last
            # (Redis's latest is the greatest id): leave it to Redis.
            threads.pop(thread_id, None)
            return
        blobs: dict[str, tuple[str, bytes | None]] = {}
        for channel, version in versions.items():
            version = str(version)
            if channel in new_blobs:
                blobs[channel] = (version, new_blobs[channel])
            elif (old := att.blobs.get(channel)) is not None and old[0] == version:
                blobs[channel] = old
            else:
                threads.pop(thread_id, None)
                return
        # Writes of older checkpoints are never read from here again.
        writes = {f: w for f, w in att.writes.items() if f >= field}
        threads[thread_id] = Attempt(token, field, record, blobs, writes, att.base)

    def _seen_writes(self, thread_id: str, token: str, field: str, args: list[Any]) -> None:
        att = self.cache.threads.get(thread_id)
        if att is None or att.token != token or field < att.field:
            return
        stored = att.writes.setdefault(field, {})
        for i in range(2, len(args), 3):  # as the script does: 's' replaces, 'n' keeps
            if args[i + 2] == "s":
                stored[args[i]] = args[i + 1]
            else:
                stored.setdefault(args[i], args[i + 1])

    def _unsure(self, thread_id: str) -> None:
        self.cache.threads.pop(thread_id, None)
