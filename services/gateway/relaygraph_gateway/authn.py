"""Who is calling, for every HTTP request: the shared ``RELAYGRAPH_API_KEY``,
then langgraph.json's ``@auth.authenticate`` handler (:mod:`relaygraph.auth`),
then the caller's rate limit. The caller is left in the ASGI scope for the
routes' authorization (:mod:`authz`).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from relaygraph.auth import Authenticator, AuthFailed, Caller
from relaygraph_gateway.render import JSON

API_KEY_OPEN = frozenset(
    {"/ok", "/docs", "/openapi.json", "/docs/oauth2-redirect", "/asyncapi", "/asyncapi.json"}
)
"""Paths served without the API key."""
CUSTOM_AUTH_OPEN = frozenset({"/", "/ok", "/info", "/metrics", "/docs", "/openapi.json"})
"""Paths served without custom authentication (the reference's)."""
CALLER = "relaygraph.caller"
"""Scope key of the request's :class:`Caller`."""


def caller_of(scope: Scope) -> Caller:
    caller: Caller | None = scope.get(CALLER)
    return caller if caller is not None else Caller()


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
