"""LangGraph custom auth (``auth.path`` in langgraph.json, a
``langgraph_sdk.Auth`` object), applied as LangGraph Server applies it, for
every service that serves people: the gateway (HTTP and NATS resumes) and the
reviewer's inbox.

Who is calling: the ``@auth.authenticate`` handler, its parameters filled by
name (``authorization``, ``headers`` as bytes, ``path``, ``method``,
``query_params``, ``path_params``, ``request``, ``scope``); what it returns (an
identity string, a dict with ``identity``, any object with ``.identity``, or
``(permissions, user)``) becomes the :class:`User` that ``@auth.on`` handlers
see as ``ctx.user`` and a graph reads as ``configurable["langgraph_auth_user"]``.

What it may do (:class:`Access`): exactly one ``@auth.on`` handler runs per
check, the first of (resource, action), (resource, ``*``), (``*``, action) and
the global one; none means allowed. It may refuse (``False``: 403, or its own
``Auth.exceptions.HTTPException``), stamp the value's ``metadata``, and return
a filter over stored metadata (:func:`matches`).

Stricter than the reference: an ``HTTPException`` raised while authenticating
keeps its status and headers whatever the status (the reference answers 500
for any but 401 and 403 and drops the headers).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langgraph_sdk import Auth
from langgraph_sdk.auth.types import AuthContext
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.types import Scope

from relaygraph.errors import InvalidInput, RelaygraphError
from relaygraph.user_code import TargetError, import_target, make_importable

PARAMETERS = frozenset(
    {"request", "authorization", "headers", "path", "method", "query_params", "path_params"}
    | {"scope", "scopes", "user", "body"}
)
Filters = dict[str, Any]
RUN_CONFIG_KEYS = ("langgraph_auth_user", "langgraph_auth_user_id", "langgraph_auth_permissions")
"""What a run's ``configurable`` says of who asked for it (a client cannot set them)."""


class AuthFailed(RelaygraphError):
    """An auth handler refused the request (its status, detail and headers)."""

    code = "forbidden"

    def __init__(self, status: int, detail: str, headers: Mapping[str, str] | None = None):
        super().__init__(detail)
        self.status = status
        self.headers = dict(headers or {})
        if status == 401:
            self.code = "unauthorized"


class User(Mapping[str, Any]):
    """``ctx.user``: ``identity``, ``display_name`` (the identity unless
    given), ``is_authenticated`` (true unless given), and whatever else the
    authenticate handler returned, as attributes and as a mapping."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self._data = {
            "identity": str(data["identity"]),
            "is_authenticated": bool(data.get("is_authenticated", True)),
            "display_name": str(data.get("display_name") or data["identity"]),
        } | {k: v for k, v in data.items() if k not in ("is_authenticated", "display_name")}
        self._data["identity"] = str(data["identity"])

    @classmethod
    def of(cls, found: Any) -> User:
        if isinstance(found, User):
            return found
        if isinstance(found, str):
            return cls({"identity": found})
        if isinstance(found, Mapping) and "identity" in found:
            return cls(found)
        if not isinstance(found, Mapping) and hasattr(found, "identity"):
            fields = {k: getattr(found, k) for k in dir(found) if not k.startswith("_")}
            return cls({k: v for k, v in fields.items() if not callable(v)})
        raise ValueError(
            "Expected a BaseUser instance with required property: identity (str). Optional "
            "properties are: is_authenticated (bool, defaults to True) and display_name (str, "
            f"defaults to identity). Got {type(found)} instead"
        )

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["_data"][name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def identity(self) -> str:
        return str(self._data["identity"])

    @property
    def display_name(self) -> str:
        return str(self._data["display_name"])

    @property
    def is_authenticated(self) -> bool:
        return bool(self._data["is_authenticated"])

    def to_json(self) -> dict[str, Any]:
        """What a run's ``configurable["langgraph_auth_user"]`` holds."""
        return dict(self._data)


ANONYMOUS = User({"identity": "", "is_authenticated": False, "display_name": ""})


@dataclass(frozen=True)
class Caller:
    user: User = field(default_factory=lambda: ANONYMOUS)
    permissions: list[str] = field(default_factory=list)
    key: str = ""
    """Who the rate limit counts this request against."""


def load_auth(target: str, root: Path, dependencies: list[Path]) -> Auth:
    make_importable(dependencies)
    try:
        auth = import_target(target, root)
    except TargetError as exc:
        raise InvalidInput(f"auth.path: {exc}") from None
    if not isinstance(auth, Auth):
        raise InvalidInput(f"auth.path: {target!r} is not a langgraph_sdk.Auth object")
    if auth._authenticate_handler is None:
        raise InvalidInput(f"auth.path: {target!r} has no @auth.authenticate handler")
    return auth


class Authenticator:
    """The ``@auth.authenticate`` handler, its parameters checked once."""

    def __init__(self, auth: Auth) -> None:
        handler = auth._authenticate_handler
        assert handler is not None
        self.handler: Callable[..., Any] = handler
        self.wants: list[str] = []
        for name, param in inspect.signature(handler).parameters.items():
            if name in PARAMETERS and name != "body":
                self.wants.append(name)
            elif param.default is inspect.Parameter.empty:
                raise InvalidInput(
                    f"@auth.authenticate parameter {name!r} is not one the server supplies "
                    f"({', '.join(sorted(PARAMETERS - {'body'}))})"
                )
        self.is_async = inspect.iscoroutinefunction(handler)

    def _arguments(self, scope: Scope) -> dict[str, Any]:
        headers = dict(scope["headers"])
        given: dict[str, Callable[[], Any]] = {
            "request": lambda: Request(scope),
            "authorization": lambda: (
                headers[b"authorization"].decode() if b"authorization" in headers else None
            ),
            "headers": lambda: headers,
            "path": lambda: scope["path"],
            "method": lambda: scope["method"],
            "query_params": lambda: QueryParams(scope.get("query_string", b"")),
            "path_params": lambda: scope.get("path_params", {}),
            "scope": lambda: scope,
            "scopes": lambda: [],
            "user": lambda: None,
        }
        return {name: given[name]() for name in self.wants}

    async def __call__(self, scope: Scope) -> Caller:
        arguments = self._arguments(scope)
        try:
            if self.is_async:
                found = await self.handler(**arguments)
            else:
                found = await asyncio.to_thread(self.handler, **arguments)
            permissions: Any = []
            if isinstance(found, tuple):
                if len(found) != 2:
                    raise ValueError("authenticate must return a user or (permissions, user)")
                permissions, found = found
            elif isinstance(found, Mapping):
                permissions = found.get("permissions", [])
            elif hasattr(found, "permissions"):
                permissions = found.permissions
            user = User.of(found)
        except Auth.exceptions.HTTPException as exc:
            raise AuthFailed(exc.status_code, str(exc.detail), exc.headers) from None
        except ValueError as exc:
            raise AuthFailed(400, str(exc)) from None
        return Caller(user, list(permissions or []), key=f"user:{user.identity}")


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


async def nats_access(
    auth: Auth | None,
    thread_id: str,
    headers: Mapping[str, str],
    authenticator: Authenticator | None = None,
) -> Access:
    """The :class:`Access` of a NATS request: its headers authenticated as
    those of the HTTP request that would do the same (``POST
    /threads/<id>/runs``). ``authenticator``: ``auth``'s, built once by the
    caller (building one inspects the handler's signature)."""
    if auth is None:
        return Access(None, Caller())
    scope = {
        "type": "http",
        "method": "POST",
        "path": f"/threads/{thread_id}/runs",
        "headers": [(k.lower().encode(), str(v).encode()) for k, v in headers.items()],
        "query_string": b"",
    }
    return Access(auth, await (authenticator or Authenticator(auth))(scope))
