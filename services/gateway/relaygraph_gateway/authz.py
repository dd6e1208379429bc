"""What a caller may do: the ``@auth.on`` handlers of langgraph.json's
``auth``, applied as LangGraph Server applies them.

Before an operation, the route asks :meth:`Access.check` with the resource
(``threads``, ``assistants``, ``crons``, ``store``; runs are ``threads``), the
action and the value the reference passes. Exactly one handler runs: the
first of (resource, action), (resource, ``*``), (``*``, action) and the
global ``@auth.on``; none means allowed. It may refuse (``False``: 403, or its
own ``Auth.exceptions.HTTPException``), stamp the value's ``metadata`` (kept
on what is created), and return a filter over the stored ``metadata``: an
item that does not match is answered as if it did not exist (404), and
searches and counts leave it out.

Without ``auth`` in langgraph.json, :meth:`Access.check` returns at once and
no metadata is read for it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from langgraph_sdk import Auth
from langgraph_sdk.auth.types import AuthContext
from starlette.types import Scope

from relaygraph.errors import NotFound
from relaygraph_gateway.authn import Authenticator, AuthFailed, Caller, caller_of

Filters = dict[str, Any]
RUN_CONFIG_KEYS = ("langgraph_auth_user", "langgraph_auth_user_id", "langgraph_auth_permissions")


class Access:
    """One caller, and the ``Auth`` object that rules what it may do."""

    def __init__(self, auth: Auth | None, caller: Caller) -> None:
        self.auth_configured = auth is not None
        self.auth = auth if auth is not None and _has_rules(auth) else None
        self.caller = caller

    @property
    def on(self) -> bool:
        """Whether any ``@auth.on`` handler is configured."""
        return self.auth is not None

    def _handler(self, resource: str, action: str) -> Callable[..., Any] | None:
        assert self.auth is not None
        handlers = self.auth._handlers
        for key in ((resource, action), (resource, "*"), ("*", action)):
            if key in handlers:
                return handlers[key][-1]
        return self.auth._global_handlers[-1] if self.auth._global_handlers else None

    async def check(self, resource: str, action: str, value: dict[str, Any]) -> Filters | None:
        """Run the handler for ``resource``/``action`` on ``value`` (which it
        may change); the filter it returned, if any."""
        if self.auth is None:
            return None
        handler = self._handler(resource, action)
        if handler is None:
            return None
        ctx = AuthContext(
            user=self.caller.user,
            permissions=list(self.caller.permissions),
            resource=resource,  # type: ignore[arg-type]
            action=action,  # type: ignore[arg-type]
        )
        try:
            result = await handler(ctx=ctx, value=value)
        except Auth.exceptions.HTTPException as exc:
            raise AuthFailed(exc.status_code, str(exc.detail), exc.headers) from None
        except AssertionError as exc:
            raise AuthFailed(403, str(exc) or "unknown error") from None
        if result is None or result is True:
            return None
        if result is False:
            raise AuthFailed(403, "Forbidden")
        if isinstance(result, dict):
            return result or None
        raise AuthFailed(
            500,
            "Auth handler returned invalid result. Expected filter dict, None, or boolean. "
            f"Got {type(result)} instead.",
        )

    def run_config(self) -> dict[str, Any]:
        """The keys every run's ``configurable`` gets: who asked for it."""
        user = self.caller.user
        return {
            "langgraph_auth_user": user.to_json() if user.identity else None,
            "langgraph_auth_user_id": user.identity,
            "langgraph_auth_permissions": list(self.caller.permissions),
        }


def _has_rules(auth: Auth) -> bool:
    return bool(auth._handlers or auth._global_handlers)


def access_of(scope: Scope) -> Access:
    """The request's :class:`Access` (the app's ``Auth``, the scope's caller)."""
    auth: Auth | None = getattr(scope["app"].state, "auth", None)
    return Access(auth, caller_of(scope))


def matches(metadata: Mapping[str, Any] | None, filters: Filters | None) -> bool:
    """Whether ``metadata`` passes an auth filter: each key equal (or
    ``{"$eq": v}``), or a list holding ``{"$contains": x}`` (every element of
    x when x is a list); ``$or`` / ``$and`` over groups of those."""
    if not filters:
        return True
    metadata = metadata or {}
    for key, expected in filters.items():
        if key in ("$or", "$and"):
            if not isinstance(expected, list) or len(expected) < 2:
                raise AuthFailed(500, f"Auth filter has an invalid {key} operator: {expected!r}")
            found = [matches(metadata, group) for group in expected]
            if not (any(found) if key == "$or" else all(found)):
                return False
        elif not _matches_one(metadata, key, expected):
            return False
    return True


def _matches_one(metadata: Mapping[str, Any], key: str, expected: Any) -> bool:
    if not isinstance(expected, dict):
        return key in metadata and metadata[key] == expected
    if not expected:
        return True
    op, operand = next(iter(expected.items()))
    if op == "$eq":
        return key in metadata and metadata[key] == operand
    if op == "$contains":
        held = metadata.get(key)
        if not isinstance(held, list):
            return False
        wanted = operand if isinstance(operand, list) else [operand]
        return all(item in held for item in wanted)
    return True  # an operator the reference does not know matches, as there


RUN_HIDDEN = "Thread or assistant not found."


class Hidden(NotFound):
    """What the caller may not see, answered as if it did not exist."""


async def nats_access(auth: Auth | None, thread_id: str, headers: Mapping[str, str]) -> Access:
    """The :class:`Access` of a NATS request: its headers authenticated as
    those of the HTTP request that would do the same (``POST
    /threads/<id>/runs``)."""
    if auth is None:
        return Access(None, Caller())
    scope = {
        "type": "http",
        "method": "POST",
        "path": f"/threads/{thread_id}/runs",
        "headers": [(k.lower().encode(), str(v).encode()) for k, v in headers.items()],
        "query_string": b"",
    }
    return Access(auth, await Authenticator(auth)(scope))


async def authorize_run(
    access: Access,
    body: Any,
    *,
    thread_id: str | None,
    run_id: str,
    thread: Mapping[str, Any] | None,
    assistant: Mapping[str, Any],
) -> Any:
    """``threads:create_run`` (and ``assistants:read`` of a user's assistant)
    for a new run: ``body`` (a ``RunCreate``) as the run is to be made, with
    the metadata the handler stamped and who asked in its ``configurable``.
    ``thread``: the thread's stored metadata, None if it does not exist yet.
    A thread or assistant the caller may not see is a 404, as in the reference."""
    config = dict(body.config or {})
    given = config.get("configurable") or {}
    if not access.auth_configured and not any(k in given for k in RUN_CONFIG_KEYS):
        return body  # nothing to stamp, nothing to strip
    configurable = {k: v for k, v in given.items() if k not in RUN_CONFIG_KEYS}
    if access.auth_configured:
        configurable |= access.run_config()
        if not configurable.get("user_id"):
            own = (assistant.get("config") or {}).get("configurable") or {}
            configurable["user_id"] = own.get("user_id") or access.caller.user.identity
    config["configurable"] = configurable
    metadata = dict(body.metadata or {})
    if access.on:
        value = {
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
        filters = await access.check("threads", "create_run", value)
        metadata = value["metadata"]
        if filters and thread is not None and not matches(thread, filters):
            raise Hidden(RUN_HIDDEN)
        if (assistant.get("metadata") or {}).get("created_by") != "system":
            found = await access.check(
                "assistants", "read", {"assistant_id": assistant["assistant_id"]}
            )
            if found and not matches(assistant.get("metadata"), found):
                raise Hidden(RUN_HIDDEN)
    return body.model_copy(update={"config": config, "metadata": metadata or body.metadata})
