"""An attempt's checkpoint writes, sent to Redis together.

LangGraph's default durability ("async") saves a step's checkpoint while the
next step runs; a crash may lose the newest saves, and the next attempt goes
on from the last checkpoint Redis holds. Within that contract the executor
holds an attempt's puts and pending writes for up to a window
(``RELAYGRAPH_CHECKPOINT_WRITE_WINDOW``) and sends them as one fenced script
(the checkpointer's ``batch``): one fence and each key written once, whatever
the number of steps. A quick run sends everything once, in the script that
records its outcome.

What stays as it was: a write of a stale attempt is refused (the batch is
fenced like any put), the outcome is recorded with or after its checkpoints
(:meth:`WriteBehind.take` hands them to the finish script), a read that the
attempt's memory cannot answer first sends what is held, and durability
``sync`` writes through.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from relaygraph.checkpoint._requests import Call
from relaygraph.errors import StaleEpoch

log = logging.getLogger("relaygraph.executor")

MAX_HELD_BYTES = 1 << 20
"""Held more than this, the writes go at once (a big state is not kept twice)."""

Send = Callable[[str, list[str], list[Any]], Awaitable[None]]
"""Send one batch: (thread id, keys, the batch script's arguments); raises
:class:`relaygraph.errors.StaleEpoch` when fenced."""

_KINDS = {"put": "p", "put_writes": "w"}


@dataclass(slots=True)
class _Held:
    thread_id: str
    keys: list[str]
    token: str
    ttl: Any = ""
    ops: list[Any] = field(default_factory=list)
    size: int = 0
    timer: asyncio.TimerHandle | None = None
    refused: BaseException | None = None
    """Set once a batch was fenced: every later write fails the same way."""
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class WriteBehind:
    """Per thread of a running attempt, the puts and writes not sent yet."""

    def __init__(self, send: Send, window: float) -> None:
        self.send = send
        self.window = window
        self._held: dict[str, _Held] = {}  # by the thread's first checkpoint key
        self._by_key: dict[str, _Held] = {}  # by each of the thread's checkpoint keys
        self._timed: set[asyncio.Task[None]] = set()

    def hold(self, thread_id: str, keys: list[str], token: str) -> None:
        """From now on, ``token``'s puts and writes of the thread are held."""
        if self.window > 0:
            self.release(keys)
            held = self._held[keys[0]] = _Held(thread_id, keys, token)
            self._by_key.update(dict.fromkeys(keys, held))

    def release(self, keys: list[str]) -> None:
        """The attempt ended: drop what is held (sent or not) of the thread."""
        held = self._held.pop(keys[0], None)
        if held is None:
            return
        for key in held.keys:
            self._by_key.pop(key, None)
        if held.timer is not None:
            held.timer.cancel()

    def thread_of(self, keys: list[str]) -> str | None:
        held = self._held.get(keys[0])
        return None if held is None else held.thread_id

    def token_of(self, keys: list[str]) -> str | None:
        held = self._held.get(keys[0])
        return None if held is None else held.token

    def takes(self, call: Call) -> bool:
        """Whether ``call`` is a write this holds rather than sends."""
        if call.script not in _KINDS:
            return False
        held = self._held.get(call.keys[0])
        return held is not None and str(call.args[0]) == held.token

    async def add(self, call: Call) -> None:
        """Hold one put or put_writes (:meth:`takes` said yes)."""
        held = self._held[call.keys[0]]
        if held.refused is not None:
            raise held.refused
        rest = call.args[2:]
        held.ttl = call.args[1]
        held.ops += [_KINDS[call.script], len(rest), *rest]
        held.size += sum(len(a) for a in rest if isinstance(a, (bytes, str)))
        if held.size > MAX_HELD_BYTES:
            await self.flush_keys(held.keys)
        elif held.timer is None:
            loop = asyncio.get_running_loop()
            held.timer = loop.call_later(self.window, self._on_timer, held)

    def _on_timer(self, held: _Held) -> None:
        held.timer = None
        task = asyncio.create_task(self._flush(held, quiet=True))
        self._timed.add(task)
        task.add_done_callback(self._timed.discard)

    async def flush(self, thread_id: str) -> None:
        """Send what is held of the thread (if anything), and wait for it."""
        for held in [h for h in self._held.values() if h.thread_id == thread_id]:
            await self._flush(held)

    async def flush_keys(self, keys: list[Any]) -> None:
        """Send what is held of any thread one of ``keys`` belongs to."""
        for key in keys:
            held = self._by_key.get(key.decode() if isinstance(key, bytes) else str(key))
            if held is not None:
                await self._flush(held)

    async def take(self, keys: list[str]) -> tuple[Any, list[Any]]:
        """What is held of the thread, no longer held: (ttl, the ``batch``
        operations) for the caller to send with its own script (the run's
        finish); waits for a batch on its way, raises if one was refused."""
        held = self._held.get(keys[0])
        if held is None:
            return "", []
        async with held.lock:
            if held.timer is not None:
                held.timer.cancel()
                held.timer = None
            if held.refused is not None:
                raise held.refused
            ops, held.ops, held.size = held.ops, [], 0
            return held.ttl, ops

    async def flush_all(self) -> None:
        for held in list(self._held.values()):
            await self._flush(held)

    async def _flush(self, held: _Held, quiet: bool = False) -> None:
        async with held.lock:  # one batch at a time, in order
            if held.timer is not None:
                held.timer.cancel()
                held.timer = None
            if held.refused is not None:
                if quiet:
                    return
                raise held.refused
            if not held.ops:
                return
            ops, size = held.ops, held.size
            held.ops, held.size = [], 0
            try:
                await self.send(held.thread_id, held.keys, [held.token, held.ttl, *ops])
            except Exception as exc:
                if isinstance(exc, StaleEpoch):
                    held.refused = exc
                else:  # kept, in order, for the next batch (a batch is idempotent)
                    held.ops, held.size = ops + held.ops, size + held.size
                if quiet:
                    log.warning("checkpoint writes of thread %s not sent: %s", held.thread_id, exc)
                    return
                raise
