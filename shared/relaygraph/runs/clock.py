"""The times a run's records carry: milliseconds for scores and deadlines,
ISO 8601 for what the API shows."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def now_ms() -> int:
    return int(time.time() * 1000)


def now_iso() -> str:
    return datetime.now(UTC).isoformat()
