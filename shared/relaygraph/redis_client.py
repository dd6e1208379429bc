"""Connecting to Redis: one server, or a Redis Cluster.

``REDIS_URL`` may name a single Redis/Valkey or any node of a cluster.
``REDIS_CLUSTER=auto`` (the default) asks the server at start (``INFO
cluster``); ``yes``/``no`` skip the question, which matters only when Redis is
not reachable while a service starts (``auto`` then assumes one server).

A cluster client follows MOVED and ASK, and on a connection error, TRYAGAIN or
CLUSTERDOWN (a master died, its replica is not promoted yet) reloads the slot
map and tries again with a growing pause, for about ``REDIS_RETRY_SECONDS``;
after that the error reaches the caller, as an outage of a single Redis does.
(redis-py's own retries come back at once, which a failover of a few seconds
outlasts.) Scripts are sent by SHA and loaded again on a node that does not
know them (a promoted replica has an empty script cache). As with redis-py's
retries on one server, a command whose connection broke after it was sent
may run twice: relaygraph's transitions are fenced scripts for that reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar, cast

from redis.asyncio import BlockingConnectionPool, Redis, RedisCluster
from redis.backoff import ExponentialWithJitterBackoff, NoBackoff
from redis.exceptions import (
    ClusterDownError,
    ConnectionError,
    RedisError,
    SlotNotCoveredError,
    TimeoutError,
    TryAgainError,
)
from redis.retry import Retry

if TYPE_CHECKING:
    from relaygraph.settings import RedisSettings

RedisClient: TypeAlias = Redis | RedisCluster
"""What every component that talks to Redis is given."""

log = logging.getLogger("relaygraph.redis")
T = TypeVar("T")

_BACKOFF_CAP = 1.0
_PIPELINE_PAUSE = 0.25  # redis-py's cluster pipelines wait this long between tries

REDIS_UNAVAILABLE: tuple[type[Exception], ...] = (
    ConnectionError,
    TimeoutError,
    ClusterDownError,
    SlotNotCoveredError,
    TryAgainError,
)
"""Redis is away (or, on a cluster, a master is being replaced): worth another
try, and for a caller that gives up, an outage (a 503, an attempt not counted)."""


class FailoverCluster(RedisCluster):
    """A RedisCluster whose commands ride out a failover (module docstring)."""

    retry_seconds: float = 15.0
    _closing = False

    async def aclose(self) -> None:
        """redis-py closes the whole client to reload the slot map (after
        CLUSTERDOWN, or MOVED many times), which cuts the connections other
        tasks are using mid-command. Here that only asks for the reload: its
        ``initialize()`` recycles each connection once its command is done.
        :meth:`close` closes the client for real."""
        if self._closing:
            await super().aclose()
        else:
            self._initialize = True

    async def close(self) -> None:
        self._closing = True
        await super().aclose()

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        async def attempt() -> Any:
            return await super(FailoverCluster, self).execute_command(*args, **kwargs)

        return await ride_out(attempt, self.retry_seconds, REDIS_UNAVAILABLE)


async def ride_out(
    attempt: Callable[[], Awaitable[T]], seconds: float, errors: tuple[type[Exception], ...]
) -> T:
    """``attempt()`` again after each of ``errors``, with a growing pause, for
    about ``seconds``; then its last error."""
    deadline = time.monotonic() + seconds
    pause = 0.05
    while True:
        try:
            return await attempt()
        except errors:
            if time.monotonic() + pause > deadline:
                raise
            await asyncio.sleep(pause)
            pause = min(pause * 2, _BACKOFF_CAP)


async def is_cluster(url: str) -> bool | None:
    """Whether the server at ``url`` runs in cluster mode (None: unreachable)."""
    probe = Redis.from_url(
        url, socket_connect_timeout=2, socket_timeout=2, retry=Retry(NoBackoff(), 0)
    )
    try:
        info = await probe.info("cluster")
    except (ConnectionError, TimeoutError, OSError):
        return None
    except RedisError:  # an old server without the section: not a cluster
        return False
    finally:
        await probe.aclose()
    return bool(info.get("cluster_enabled"))


def _retry(seconds: float) -> Retry:
    # The count is what bounds a pipeline's retries (each after a fixed pause).
    retries = max(1, int(seconds / _PIPELINE_PAUSE))
    return Retry(ExponentialWithJitterBackoff(cap=_BACKOFF_CAP, base=0.05), retries)


async def wants_cluster(settings: RedisSettings) -> bool:
    """Whether to talk to ``settings.url`` as a cluster (``REDIS_CLUSTER``)."""
    if settings.cluster != "auto":
        return settings.cluster == "yes"
    found = await is_cluster(settings.url)
    if found is None:
        log.warning("Redis at REDIS_URL is not reachable: taken as one server, not a cluster")
    return bool(found)


async def open_client(settings: RedisSettings, name: str | None = None) -> RedisClient:
    """A client for ``settings.url``; ``name``: its connections' ``CLIENT SETNAME``."""
    if await wants_cluster(settings):
        client = cast(
            FailoverCluster,
            FailoverCluster.from_url(
                settings.url,
                max_connections=settings.max_connections,
                client_name=name,
                retry=_retry(settings.retry_seconds),
            ),
        )
        client.retry_seconds = settings.retry_seconds
        return client
    pool = BlockingConnectionPool.from_url(
        settings.url, max_connections=settings.max_connections, timeout=10, client_name=name
    )
    return Redis.from_pool(pool)  # closing the client closes the pool


@contextlib.asynccontextmanager
async def connect(settings: RedisSettings, name: str | None = None) -> AsyncIterator[RedisClient]:
    """:func:`open_client`, closed on exit."""
    client = await open_client(settings, name)
    try:
        yield client
    finally:
        await (client.close() if isinstance(client, FailoverCluster) else client.aclose())
