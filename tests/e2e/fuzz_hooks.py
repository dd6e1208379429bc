"""Schemathesis hooks of the fuzz test (loaded by ``st`` through
``SCHEMATHESIS_HOOKS``, not by pytest).

A generated ``/wait`` with ``after_seconds`` of days waits for days, as
LangGraph Server's would (and a delayed run on the shared paused thread holds
it as long). Delays are dropped (delayed runs have tests of their own);
negative and malformed ones still go out as generated (they must be 422s).
"""

from __future__ import annotations

from typing import Any

import schemathesis

LONGEST_DELAY = 0


def _short(body: Any) -> None:
    if isinstance(body, list):
        for item in body:
            _short(item)
    elif isinstance(body, dict):
        delay = body.get("after_seconds")
        if isinstance(delay, int | float) and not isinstance(delay, bool) and delay > 0:
            body["after_seconds"] = LONGEST_DELAY


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    """Every phase's requests (examples, coverage and fuzzing) pass here."""
    _short(case.body)
