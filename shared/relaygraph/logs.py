"""Log set-up for every service: plain text for a terminal, or one JSON
object per line (``RELAYGRAPH_LOG_FORMAT=json``) for a log pipeline.

Each record carries the run, thread and executor it is about when the code
that logs runs inside one (:func:`about`): the ids live in context variables,
so a line logged deep inside a graph's run, or by a library, still names its
run without every call passing them.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime
import logging
import os
from collections.abc import Iterator
from typing import Any

import msgspec

_CONTEXT: contextvars.ContextVar[tuple[tuple[str, str], ...]] = contextvars.ContextVar(
    "relaygraph_log_context", default=()
)
FORMATS = ("text", "json")


@contextlib.contextmanager
def about(**ids: str | None) -> Iterator[None]:
    """Lines logged inside carry these ids (``run_id=...``, ``thread_id=...``)."""
    known = dict(_CONTEXT.get()) | {k: v for k, v in ids.items() if v is not None}
    token = _CONTEXT.set(tuple(known.items()))
    try:
        yield
    finally:
        _CONTEXT.reset(token)


def set_process_ids(**ids: str) -> None:
    """Ids every line of this process carries (an executor's id)."""
    _PROCESS.update(ids)


_PROCESS: dict[str, str] = {}


class JsonLines(logging.Formatter):
    """``{"time", "level", "logger", "message", <ids>, "exception"?}``."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.datetime.fromtimestamp(record.created, datetime.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        line |= _PROCESS
        line |= dict(_CONTEXT.get())
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return msgspec.json.encode(line).decode()


class _WithIds(logging.Formatter):
    """Text lines end with the ids they are about: ``[run=... thread=...]``."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        ids = _CONTEXT.get()
        if not ids:
            return text
        tail = " ".join(f"{k.removesuffix('_id')}={v}" for k, v in ids)
        first, sep, rest = text.partition("\n")
        return f"{first} [{tail}]{sep}{rest}"


def setup(level: str | None = None, fmt: str | None = None) -> None:
    """The root logger's handler, from ``RELAYGRAPH_LOG_LEVEL`` and
    ``RELAYGRAPH_LOG_FORMAT`` unless given."""
    level = (level or os.environ.get("RELAYGRAPH_LOG_LEVEL", "INFO")).upper()
    fmt = (fmt or os.environ.get("RELAYGRAPH_LOG_FORMAT", "text")).lower()
    if fmt not in FORMATS:
        raise SystemExit(f"RELAYGRAPH_LOG_FORMAT={fmt!r}: expected one of {', '.join(FORMATS)}")
    handler = logging.StreamHandler()
    if fmt == "json":
        handler.setFormatter(JsonLines())
    else:
        handler.setFormatter(_WithIds("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler], force=True)
