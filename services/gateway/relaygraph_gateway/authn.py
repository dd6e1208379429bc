"""Who is calling: the ``@auth.authenticate`` handler of langgraph.json's
``auth`` (a ``langgraph_sdk.Auth`` object), run on every request as LangGraph
Server runs it, or the shared ``RELAYGRAPH_API_KEY``, or nobody.

The handler's parameters are filled by name (``authorization``, ``headers``
as bytes, ``path``, ``method``, ``query_params``, ``path_params``,
``request``, ``scope``), and what it returns (an identity string, a dict with
``identity``, any object with ``.identity``, or ``(permissions, user)``)
becomes the :class:`User` that ``@auth.on`` handlers see as ``ctx.user`` and a
graph reads as ``configurable["langgraph_auth_user"]``.

Where this is stricter or plainer than the reference: an
``Auth.exceptions.HTTPException`` raised while authenticating keeps its
status and headers whatever the status (the reference answers 500 for any
but 401 and 403 and drops the headers, ``WWW-Authenticate`` included).
"""

from __future__ import annotations

import asyncio
import hmac
import inspect
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langgraph_sdk import Auth
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from relaygraph.errors import InvalidInput, RelaygraphError
from relaygraph.user_code import TargetError, import_target, make_importable
from relaygraph_gateway.render import JSON

API_KEY_OPEN = frozenset(
    {"/ok", "/docs", "/openapi.json", "/docs/oauth2-redirect", "/asyncapi", "/asyncapi.json"}
)
"""Paths served without the API key."""
CUSTOM_AUTH_OPEN = frozenset({"/", "/ok", "/info", "/metrics", "/docs", "/openapi.json"})
"""Paths served without custom authentication (the reference's)."""
CALLER = "relaygraph.caller"
"""Scope key of the request's :class:`Caller`."""
PARAMETERS = frozenset(
    {"request", "authorization", "headers", "path", "method", "query_params", "path_params"}
    | {"scope", "scopes", "user", "body"}
)


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


def caller_of(scope: Scope) -> Caller:
    caller: Caller | None = scope.get(CALLER)
    return caller if caller is not None else Caller()


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


class Guard:
    """ASGI: authenticate each request (the API key, then the custom handler),
    then count it against the caller's rate limit. The caller is left in the
    scope (:func:`caller_of`) for the routes' authorization."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        api_key: str | None,
        authenticator: Authenticator | None,
        public: Callable[[Scope], bool] = lambda scope: False,
    ) -> None:
        self.app = app
        self.key = api_key.encode() if api_key else None
        self.authenticator = authenticator
        self.public = public
        """Requests custom auth leaves alone (the ``http.app`` routes, unless
        ``enable_custom_route_auth``)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        caller = Caller(key=f"addr:{(scope.get('client') or ('?',))[0]}")
        if self.key is not None and path not in API_KEY_OPEN:
            if not self._has_key(scope):
                response = JSON({"detail": "Missing or wrong API key (x-api-key header)"}, 401)
                await response(scope, receive, send)
                return
            caller = Caller(key="api-key")
        if (
            self.authenticator is not None
            and path not in CUSTOM_AUTH_OPEN
            and not self.public(scope)
        ):
            try:
                caller = await self.authenticator(scope)
            except AuthFailed as exc:
                await JSON({"detail": exc.message}, exc.status, exc.headers)(scope, receive, send)
                return
        scope[CALLER] = caller
        limiter = getattr(scope["app"].state, "rate_limiter", None)
        if limiter is not None and path not in API_KEY_OPEN:
            wait = await limiter.wait_for(caller.key)
            if wait > 0:
                await limiter.refusal(wait)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _has_key(self, scope: Scope) -> bool:
        given = b""
        auth = b""
        for name, value in scope["headers"]:
            if name == b"x-api-key":
                given = value
            elif name == b"authorization":
                auth = value
        if not given and auth[:7].lower() == b"bearer ":
            given = auth[7:]
        assert self.key is not None
        return hmac.compare_digest(given, self.key)
