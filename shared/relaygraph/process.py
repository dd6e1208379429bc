"""Running a service until SIGINT or SIGTERM, then letting it drain."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Coroutine
from typing import Any


class _FastStreamNoise(logging.Filter):
    """Two kinds of FastStream log records a user should not have to read:

    - every failed NATS reconnect comes with a traceback of nats-py's
      internals; the message already names the error, so one line is kept;
    - nats-py >= 2.15 lets a pull ``fetch`` that found nothing raise the
      builtin ``TimeoutError`` instead of its own (nats-io/nats.py#1008), which
      FastStream does not expect: its supervisor logs a traceback and restarts
      the consumer, which goes on as before. That record is dropped.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = str(record.msg)
        if message.startswith("Connection broken"):
            record.exc_info = None
            record.exc_text = None
        elif "raised an exception, retrying" in message and record.exc_info:
            return type(record.exc_info[1]) is not TimeoutError
        return True


def setup_logging() -> None:
    from relaygraph import logs

    logs.setup()
    level = logging.getLevelName(logging.getLogger().level)
    faststream = logging.getLogger("relaygraph.faststream")
    faststream.addFilter(_FastStreamNoise())
    if level != "DEBUG":  # FastStream's own lifecycle chatter
        faststream.setLevel(logging.WARNING)


def release_memory() -> None:
    """Hand the heap's free pages back to the OS (glibc ``malloc_trim``).

    Called once a service is up: importing LangGraph, redis-py and FastStream
    leaves MiB of freed memory in malloc's arenas (7 MiB of an executor's 98
    MiB, 9 of a gateway's 84, measured) that would otherwise stay in its RSS.
    (After runs, what grows is live memory: trimming then gained nothing.) A
    no-op where the C library has no ``malloc_trim``."""
    import ctypes
    import ctypes.util
    import gc

    gc.collect()
    name = ctypes.util.find_library("c")
    try:
        trim = ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        trim = None
    if trim is not None:
        trim(0)


def run_until_signal(factory: Callable[[asyncio.Event], Coroutine[Any, Any, None]]) -> None:
    setup_logging()

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await factory(stop)

    run(main())


def run(main: Coroutine[Any, Any, None]) -> None:
    """``asyncio.run`` on uvloop, as the gateway's uvicorn already runs (the
    executor and reviewer too, now; on the interrupt cycle the change was
    within the machine's drift, so no gain is claimed for it)."""
    try:
        import uvloop
    except ImportError:  # not built for this platform (Windows)
        asyncio.run(main)
        return
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main)
