"""Pure rules of the threads API, as LangGraph Server applies them: the
metadata keys a client may not set, ``select`` and ``extract`` on search
results, and the sort keys of a search."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, get_args

from relaygraph.errors import InvalidInput
from relaygraph_gateway.models import ThreadField

RESERVED_METADATA = ("thread_id", "assistant_id", "run_id", "cron_id")
"""Metadata keys the server sets; a client's are dropped, as the reference does."""

THREAD_FIELDS = get_args(ThreadField)
EXTRACT_ROOTS = ("config", "interrupts", "metadata", "values")
MAX_EXTRACT = 10
_SEGMENT = re.compile(r"([^.\[\]]+)|\[(-?\d+)\]")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def without_reserved(metadata: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in metadata.items() if k not in RESERVED_METADATA}


def check_extract(extract: dict[str, str] | None) -> None:
    """The reference's 422s for an ``extract`` map."""
    if not extract:
        return
    if len(extract) > MAX_EXTRACT:
        raise InvalidInput(f"Maximum of {MAX_EXTRACT} extract paths allowed, got {len(extract)}")
    reserved = sorted(k for k in extract if k in THREAD_FIELDS)
    if reserved:
        raise InvalidInput(f"Extract keys cannot use reserved field names: {reserved}")
    for alias, path in extract.items():
        if not _IDENTIFIER.match(alias):
            raise InvalidInput(
                f"Extract key '{alias}' must be a valid identifier (letters, digits, underscores)"
            )
        if not isinstance(path, str) or not path:
            raise InvalidInput(f"Extract path for '{alias}' must be a non-empty string")
        if path.split(".", 1)[0].split("[", 1)[0] not in EXTRACT_ROOTS:
            raise InvalidInput(
                f"Extract path '{path}' must start with one of: {', '.join(EXTRACT_ROOTS)}"
            )


def extracted(thread: dict[str, Any], path: str) -> Any:
    """The value at ``a.b[0].c`` in a thread (``None`` where the path leads
    nowhere; a key starting with ``_`` is never read)."""
    value: Any = thread
    for key, index in _SEGMENT.findall(path):
        if key:
            if key.startswith("_") or not isinstance(value, dict):
                return None
            value = value.get(key)
        else:
            if not isinstance(value, list):
                return None
            i = int(index)
            if not -len(value) <= i < len(value):
                return None
            value = value[i]
        if value is None:
            return None
    return value


def shaped(
    thread: dict[str, Any], select: Sequence[str] | None, extract: dict[str, str] | None
) -> dict[str, Any]:
    """A search result: only the ``select``ed fields, then ``extracted``."""
    out = {k: v for k, v in thread.items() if k in select} if select else dict(thread)
    if extract:
        out["extracted"] = {alias: extracted(thread, path) for alias, path in extract.items()}
    return out
