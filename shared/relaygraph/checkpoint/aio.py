"""AsyncRedisSaver: the checkpointer on ``redis.asyncio``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar, cast

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
)
from langgraph.checkpoint.serde.base import SerializerProtocol
from redis.asyncio import Redis, RedisCluster

from relaygraph.checkpoint._admin import AdminOps
from relaygraph.checkpoint._requests import Call, Cmds, Emit, Op, Scan
from relaygraph.checkpoint._scripts import SCRIPTS
from relaygraph.checkpoint.sync import check_client, check_server
from relaygraph.pipelining import Direct, RoundTrips

T = TypeVar("T")


class AsyncRedisSaver(AdminOps):
    """LangGraph checkpointer on Redis >= 6.2 / Valkey, plain commands and Lua.

    ``async with AsyncRedisSaver.from_conn_string(url) as saver`` or
    ``AsyncRedisSaver(client, key_prefix="rg", ttl=None)`` with a
    ``redis.asyncio`` client created with ``decode_responses=False``. The sync
    methods work from other threads only (they run on the saver's loop), like
    ``AsyncPostgresSaver``.
    """

    def __init__(
        self,
        client: Redis | RedisCluster,
        *,
        key_prefix: str = "rg",
        ttl: float | None = None,
        serde: SerializerProtocol | None = None,
        allowed_types: Iterable[tuple[str, ...] | type] | None = None,
        pipeline: RoundTrips | None = None,
    ) -> None:
        super().__init__(key_prefix=key_prefix, ttl=ttl, serde=serde, allowed_types=allowed_types)
        check_client(client)
        self.client = client
        # Where requests on one client go: on their own, or (a service passes its
        # AutoPipeline) together with whatever else is asked in the same turn.
        self.trips: RoundTrips = pipeline or Direct(client)
        self._scripts = {name: client.register_script(src) for name, src in SCRIPTS.items()}
        try:
            self.loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            self.loop = None

    @classmethod
    @asynccontextmanager
    async def from_conn_string(
        cls,
        url: str,
        *,
        key_prefix: str = "rg",
        ttl: float | None = None,
        cluster: bool = False,
        serde: SerializerProtocol | None = None,
        allowed_types: Iterable[tuple[str, ...] | type] | None = None,
    ) -> AsyncIterator[AsyncRedisSaver]:
        factory = RedisCluster if cluster else Redis
        client = factory.from_url(url, decode_responses=False)
        try:
            yield cls(
                client, key_prefix=key_prefix, ttl=ttl, serde=serde, allowed_types=allowed_types
            )
        finally:
            await client.aclose()

    async def asetup(self) -> None:
        """Check the server (Redis >= 6.2 or Valkey) and load the scripts.
        Idempotent; optional (scripts also load on first use)."""
        check_server(await self.client.info("server"))
        for script in self._scripts.values():
            await self.client.script_load(script.script)

    # -- request execution -------------------------------------------------------
    async def _exec(self, req: Any) -> Any:
        if isinstance(self.client, RedisCluster):
            return await self._exec_direct(req)
        if isinstance(req, Call):
            script = self._scripts[req.script]
            return (await self.trips.run([(script, req.keys, req.args)]))[0]
        if isinstance(req, Cmds):
            steps: list[Any] = list(req.cmds)
            if req.then is not None:
                steps.append((self._scripts[req.then.script], req.then.keys, req.then.args))
                return (await self.trips.run(steps))[-1]
            return await self.trips.run(steps)
        return await self._exec_direct(req)

    async def _exec_direct(self, req: Any) -> Any:
        """Each request on its own (a cluster client, and every key scan)."""
        if isinstance(req, Call):
            return await self._scripts[req.script](keys=req.keys, args=req.args)
        if isinstance(req, Cmds) and req.then is not None:
            await self._exec_direct(Cmds(req.cmds))  # other slots: sent first
            return await self._exec_direct(req.then)
        if isinstance(req, Cmds):
            if len(req.cmds) == 1:
                return [await self.client.execute_command(*req.cmds[0])]
            pipe = self.client.pipeline(transaction=False)
            for cmd in req.cmds:
                pipe.execute_command(*cmd)
            return await pipe.execute()
        if isinstance(req, Scan):
            return [k async for k in self.client.scan_iter(match=req.pattern, count=1000)]
        raise TypeError(f"unknown request {req!r}")

    async def _run(self, op: Op) -> Any:
        if self.loop is None:
            self.loop = asyncio.get_running_loop()
        reply = None
        while True:
            try:
                req = op.send(reply)
            except StopIteration as stop:
                return stop.value
            try:
                reply = await self._exec(req)
            except BaseException:
                op.close()  # the operation sees it failed (the attempt cache drops its thread)
                raise

    async def _iter(self, op: Op) -> AsyncIterator[Any]:
        reply = None
        try:
            while True:
                try:
                    req = op.send(reply)
                except StopIteration:
                    return
                if isinstance(req, Emit):
                    reply = None
                    yield req.value
                else:
                    reply = await self._exec(req)
        finally:
            op.close()

    # -- async API ---------------------------------------------------------------
    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return cast(CheckpointTuple | None, await self._run(self._op_get_tuple(config)))

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        async for item in self._iter(self._op_list(config, filter, before, limit)):
            yield item

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        return cast(
            RunnableConfig,
            await self._run(self._op_put(config, checkpoint, metadata, new_versions)),
        )

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        await self._run(self._op_put_writes(config, writes, task_id, task_path))

    async def adelete_thread(self, thread_id: str) -> None:
        await self._run(self._op_delete_thread(thread_id))

    async def apending_write_keys(self, config: RunnableConfig) -> set[bytes]:
        """The pending writes recorded against one checkpoint (opaque keys), to
        tell later which writes a run added: see :meth:`adelete_pending_writes`."""
        conf = config["configurable"]
        prefix = f"{conf.get('checkpoint_ns', '')}\x00{conf['checkpoint_id']}\x00".encode()
        ids = self.keys.checkpoint_write_ids(str(conf["thread_id"]))
        found = await self.client.zrangebylex(ids, b"[" + prefix, b"[" + prefix + b"\xff")
        return {f if isinstance(f, bytes) else f.encode() for f in found}

    async def adelete_pending_writes(self, config: RunnableConfig, keys: set[bytes]) -> None:
        """Forget pending writes of a checkpoint (a rolled-back run's), by key."""
        if not keys:
            return
        thread_id = str(config["configurable"]["thread_id"])
        self._unsure(thread_id)
        pipe = self.client.pipeline(transaction=True)
        pipe.zrem(self.keys.checkpoint_write_ids(thread_id), *keys)
        pipe.hdel(self.keys.checkpoint_writes(thread_id), *keys)
        await pipe.execute()

    async def adelete_for_runs(
        self, run_ids: Sequence[str], *, thread_id: str | None = None
    ) -> None:
        """Delete the runs' checkpoints: those of ``thread_id``, or (none given)
        of every thread, found by a scan of the keyspace."""
        await self._run(self._op_delete_for_runs(run_ids, thread_id))

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        await self._run(self._op_copy_thread(source_thread_id, target_thread_id))

    async def aprune(
        self, thread_ids: Sequence[str], *, strategy: str = "keep_latest", keep: int = 1
    ) -> None:
        """``keep_latest``: keep the newest ``keep`` checkpoints of each namespace
        (and the blobs and writes they use); ``delete``: delete the threads."""
        await self._run(self._op_prune(thread_ids, strategy, keep))

    # -- sync API (from other threads, on the saver's loop) ----------------------
    def _blocking(self, make: Callable[[], Coroutine[Any, Any, T]]) -> T:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if self.loop is None:
            raise asyncio.InvalidStateError(
                "AsyncRedisSaver was created outside an event loop: use its async "
                "methods, or RedisSaver for synchronous code"
            )
        if running is self.loop:
            raise asyncio.InvalidStateError(
                "Synchronous calls to AsyncRedisSaver are only allowed from a different "
                "thread. From the event loop thread use the async methods (aget_tuple, "
                "aput, ...), e.g. graph.ainvoke/astream, or use RedisSaver."
            )
        return asyncio.run_coroutine_threadsafe(make(), self.loop).result()

    def setup(self) -> None:
        self._blocking(self.asetup)

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return self._blocking(lambda: self.aget_tuple(config))

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        async def collect() -> list[CheckpointTuple]:
            return [t async for t in self.alist(config, filter=filter, before=before, limit=limit)]

        yield from self._blocking(collect)

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        return self._blocking(lambda: self.aput(config, checkpoint, metadata, new_versions))

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        self._blocking(lambda: self.aput_writes(config, writes, task_id, task_path))

    def delete_thread(self, thread_id: str) -> None:
        self._blocking(lambda: self.adelete_thread(thread_id))

    def delete_for_runs(self, run_ids: Sequence[str], *, thread_id: str | None = None) -> None:
        self._blocking(lambda: self.adelete_for_runs(run_ids, thread_id=thread_id))

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        self._blocking(lambda: self.acopy_thread(source_thread_id, target_thread_id))

    def prune(
        self, thread_ids: Sequence[str], *, strategy: str = "keep_latest", keep: int = 1
    ) -> None:
        self._blocking(lambda: self.aprune(thread_ids, strategy=strategy, keep=keep))
