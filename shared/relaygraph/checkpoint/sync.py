"""RedisSaver: the checkpointer on the synchronous redis-py client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, cast

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
)
from langgraph.checkpoint.serde.base import SerializerProtocol
from redis import Redis, RedisCluster
from redis.exceptions import NoScriptError

from relaygraph.checkpoint._admin import AdminOps
from relaygraph.checkpoint._requests import Call, Cmds, Emit, Op, Scan
from relaygraph.checkpoint._scripts import SCRIPTS

MIN_REDIS = (6, 2)


def check_client(client: Any) -> None:
    """Stored values are binary: the client must hand back bytes."""
    get_kwargs = getattr(client, "get_connection_kwargs", None)
    if get_kwargs is not None and get_kwargs().get("decode_responses"):
        raise ValueError("the Redis checkpointer needs a client with decode_responses=False")


def check_server(info: dict[str, Any]) -> None:
    """Refuse servers older than Redis 6.2 (Valkey reports a 7.2 compatible
    ``redis_version``). A cluster client answers per node: check them all."""
    nodes = [info] if "redis_version" in info else [v for v in info.values() if isinstance(v, dict)]
    for node in nodes:
        version = str(node.get("redis_version", "0"))
        parts = tuple(int(p) for p in version.split(".")[:2] if p.isdigit())
        if parts < MIN_REDIS:
            raise RuntimeError(
                f"the Redis checkpointer needs Redis >= 6.2 or Valkey, got {version}"
            )


class RedisSaver(AdminOps):
    """LangGraph checkpointer on Redis >= 6.2 / Valkey, for synchronous code.

    ``with RedisSaver.from_conn_string(url) as saver`` or ``RedisSaver(client)``
    with a ``redis.Redis`` created with ``decode_responses=False``. Same key
    layout as :class:`~relaygraph.checkpoint.AsyncRedisSaver`; the async methods
    run the sync ones in a worker thread.
    """

    def __init__(
        self,
        client: Redis | RedisCluster,
        *,
        key_prefix: str = "rg",
        ttl: float | None = None,
        serde: SerializerProtocol | None = None,
        allowed_types: Iterable[tuple[str, ...] | type] | None = None,
    ) -> None:
        super().__init__(key_prefix=key_prefix, ttl=ttl, serde=serde, allowed_types=allowed_types)
        check_client(client)
        self.client = client
        self._scripts = {name: client.register_script(src) for name, src in SCRIPTS.items()}

    @classmethod
    @contextmanager
    def from_conn_string(
        cls,
        url: str,
        *,
        key_prefix: str = "rg",
        ttl: float | None = None,
        cluster: bool = False,
        serde: SerializerProtocol | None = None,
        allowed_types: Iterable[tuple[str, ...] | type] | None = None,
    ) -> Iterator[RedisSaver]:
        factory = RedisCluster if cluster else Redis
        client = factory.from_url(url, decode_responses=False)
        try:
            yield cls(
                client, key_prefix=key_prefix, ttl=ttl, serde=serde, allowed_types=allowed_types
            )
        finally:
            client.close()

    def setup(self) -> None:
        """Check the server (Redis >= 6.2 or Valkey) and load the scripts.
        Idempotent; optional (scripts also load on first use)."""
        check_server(self.client.info("server"))
        for script in self._scripts.values():
            self.client.script_load(script.script)

    # -- request execution -------------------------------------------------------
    def _exec(self, req: Any) -> Any:
        if isinstance(req, Call):
            return self._scripts[req.script](keys=req.keys, args=req.args)
        if isinstance(req, Cmds) and req.then is not None:
            script = self._scripts[req.then.script]
            if isinstance(self.client, RedisCluster):
                self._exec(Cmds(req.cmds))
                return script(keys=req.then.keys, args=req.then.args)
            pipe = self.client.pipeline(transaction=False)
            for cmd in req.cmds:
                pipe.execute_command(*cmd)  # type: ignore[no-untyped-call]
            pipe.evalsha(script.sha, len(req.then.keys), *req.then.keys, *req.then.args)
            replies = pipe.execute(raise_on_error=False)
            for reply in replies[:-1]:
                if isinstance(reply, Exception):
                    raise reply
            if isinstance(replies[-1], NoScriptError):  # a restarted server: load it, run it
                return script(keys=req.then.keys, args=req.then.args)
            if isinstance(replies[-1], Exception):
                raise replies[-1]
            return replies[-1]
        if isinstance(req, Cmds):
            if len(req.cmds) == 1:
                return [self.client.execute_command(*req.cmds[0])]  # type: ignore[no-untyped-call]
            pipe = self.client.pipeline(transaction=False)
            for cmd in req.cmds:
                pipe.execute_command(*cmd)
            return pipe.execute()
        if isinstance(req, Scan):
            return list(self.client.scan_iter(match=req.pattern, count=1000))
        raise TypeError(f"unknown request {req!r}")

    def _run(self, op: Op) -> Any:
        reply = None
        while True:
            try:
                req = op.send(reply)
            except StopIteration as stop:
                return stop.value
            try:
                reply = self._exec(req)
            except BaseException:
                op.close()  # the operation sees it failed (the attempt cache drops its thread)
                raise

    def _iter(self, op: Op) -> Iterator[Any]:
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
                    reply = self._exec(req)
        finally:
            op.close()

    # -- sync API ----------------------------------------------------------------
    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return cast(CheckpointTuple | None, self._run(self._op_get_tuple(config)))

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        yield from self._iter(self._op_list(config, filter, before, limit))

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        return cast(
            RunnableConfig, self._run(self._op_put(config, checkpoint, metadata, new_versions))
        )

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        self._run(self._op_put_writes(config, writes, task_id, task_path))

    def delete_thread(self, thread_id: str) -> None:
        self._run(self._op_delete_thread(thread_id))

    def delete_for_runs(self, run_ids: Sequence[str], *, thread_id: str | None = None) -> None:
        """Delete the runs' checkpoints: those of ``thread_id``, or (none given)
        of every thread, found by a scan of the keyspace."""
        self._run(self._op_delete_for_runs(run_ids, thread_id))

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        self._run(self._op_copy_thread(source_thread_id, target_thread_id))

    def prune(
        self, thread_ids: Sequence[str], *, strategy: str = "keep_latest", keep: int = 1
    ) -> None:
        """``keep_latest``: keep the newest ``keep`` checkpoints of each namespace
        (and the blobs and writes they use); ``delete``: delete the threads."""
        self._run(self._op_prune(thread_ids, strategy, keep))

    # -- async API (the sync calls, in a worker thread) --------------------------
    async def asetup(self) -> None:
        await asyncio.to_thread(self.setup)

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return await asyncio.to_thread(self.get_tuple, config)

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        items = await asyncio.to_thread(
            lambda: [*self.list(config, filter=filter, before=before, limit=limit)]
        )
        for item in items:
            yield item

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        return await asyncio.to_thread(self.put, config, checkpoint, metadata, new_versions)

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        await asyncio.to_thread(self.put_writes, config, writes, task_id, task_path)

    async def adelete_thread(self, thread_id: str) -> None:
        await asyncio.to_thread(self.delete_thread, thread_id)

    async def adelete_for_runs(
        self, run_ids: Sequence[str], *, thread_id: str | None = None
    ) -> None:
        await asyncio.to_thread(lambda: self.delete_for_runs(run_ids, thread_id=thread_id))

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        await asyncio.to_thread(self.copy_thread, source_thread_id, target_thread_id)

    async def aprune(
        self, thread_ids: Sequence[str], *, strategy: str = "keep_latest", keep: int = 1
    ) -> None:
        await asyncio.to_thread(self.prune, thread_ids, strategy=strategy, keep=keep)
