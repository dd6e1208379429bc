"""What a caller may do, for the gateway's routes: their :class:`Access`
(:mod:`relaygraph.auth`), and the checks of a new run (``threads:create_run``).

Before an operation, the route asks :meth:`Access.check` with the resource
(``threads``, ``assistants``, ``crons``, ``store``; runs are ``threads``), the
action and the value the reference passes; an item its filter does not match
is answered as if it did not exist (404), and searches and counts leave it
out. Without ``auth`` in langgraph.json, :meth:`Access.check` returns at once
and no metadata is read for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langgraph_sdk import Auth
from starlette.types import Scope

from relaygraph.auth import RUN_CONFIG_KEYS, Access, Filters, matches
from relaygraph.errors import NotFound
from relaygraph_gateway.authn import caller_of
from relaygraph_gateway.models import RunCreate

__all__ = ["Access", "Filters", "Hidden", "access_of", "authorize_run", "matches"]


def access_of(scope: Scope) -> Access:
    """The request's :class:`Access` (the app's ``Auth``, the scope's caller)."""
    auth: Auth | None = getattr(scope["app"].state, "auth", None)
    return Access(auth, caller_of(scope))


RUN_HIDDEN = "Thread or assistant not found."


class Hidden(NotFound):
    """What the caller may not see, answered as if it did not exist."""


async def authorize_run(
    access: Access,
    body: RunCreate,
    *,
    thread_id: str | None,
    run_id: str,
    thread: Mapping[str, Any] | None,
    assistant: Mapping[str, Any],
) -> RunCreate:
    """``threads:create_run`` (and ``assistants:read`` of a user's assistant)
    for a new run: ``body`` as the run is to be made, with the metadata the
    handler stamped and who asked in its ``configurable``. ``thread``: the
    thread's stored metadata, None if it does not exist yet. A thread or
    assistant the caller may not see is a 404, as in the reference."""
    given = (body.config or {}).get("configurable") or {}
    if not access.auth_configured and not any(k in given for k in RUN_CONFIG_KEYS):
        return body  # nothing to stamp, nothing to strip
    config = dict(body.config or {})
    config["configurable"] = _run_configurable(access, given, assistant)
    metadata = dict(body.metadata or {})
    if access.on:
        value = _create_run_value(body, config, metadata, thread_id, run_id, assistant)
        metadata = await _check_create_run(access, value, thread, assistant)
    return body.model_copy(update={"config": config, "metadata": metadata or body.metadata})


def _run_configurable(
    access: Access, given: Mapping[str, Any], assistant: Mapping[str, Any]
) -> dict[str, Any]:
    """The run's ``configurable`` as the graph gets it: the keys the server
    sets are never the client's; with custom auth, who asked (and, unless
    set, the assistant's own ``user_id`` or the caller's identity)."""
    configurable = {k: v for k, v in given.items() if k not in RUN_CONFIG_KEYS}
    if access.auth_configured:
        configurable |= access.run_config()
        if not configurable.get("user_id"):
            own = (assistant.get("config") or {}).get("configurable") or {}
            configurable["user_id"] = own.get("user_id") or access.caller.user.identity
    return configurable


def _create_run_value(
    body: RunCreate,
    config: dict[str, Any],
    metadata: dict[str, Any],
    thread_id: str | None,
    run_id: str,
    assistant: Mapping[str, Any],
) -> dict[str, Any]:
    """What a ``threads:create_run`` handler gets, as the reference passes it."""
    return {
        "thread_id": thread_id,
        "assistant_id": assistant["assistant_id"],
        "run_id": run_id,
        "status": "pending",
        "metadata": metadata,
        "prevent_insert_if_inflight": body.multitask_strategy == "reject",
        "multitask_strategy": body.multitask_strategy,
        "if_not_exists": body.if_not_exists,
        "after_seconds": body.after_seconds,
        "kwargs": {
            "input": body.input,
            "command": body.command.model_dump() if body.command else None,
            "config": config,
            "context": body.context,
            "stream_mode": body.stream_mode,
            "interrupt_before": body.interrupt_before,
            "interrupt_after": body.interrupt_after,
            "webhook": body.webhook,
            "temporary": thread_id is None,
            "subgraphs": body.stream_subgraphs,
            "resumable": body.stream_resumable,
            "durability": body.durability,
        },
    }


async def _check_create_run(
    access: Access,
    value: dict[str, Any],
    thread: Mapping[str, Any] | None,
    assistant: Mapping[str, Any],
) -> dict[str, Any]:
    """Run the handlers on ``value`` (``_create_run_value``); the run's
    metadata, as the ``threads:create_run`` handler left it."""
    filters = await access.check("threads", "create_run", value)
    metadata: dict[str, Any] = value["metadata"]
    if filters and thread is not None and not matches(thread, filters):
        raise Hidden(RUN_HIDDEN)
    if (assistant.get("metadata") or {}).get("created_by") != "system":
        found = await access.check(
            "assistants", "read", {"assistant_id": assistant["assistant_id"]}
        )
        if found and not matches(assistant.get("metadata"), found):
            raise Hidden(RUN_HIDDEN)
    return metadata
