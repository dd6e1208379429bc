"""Who may use the inbox, and what each person sees.

- No ``RELAYGRAPH_API_KEY`` and no ``auth`` in langgraph.json: anyone who
  reaches the port (a laptop).
- The API key: ``x-api-key`` or a bearer token for programs, a session cookie
  for people who signed in with it; everyone sees every interrupt.
- LangGraph custom auth (``auth.path``): each request is authenticated by the
  same ``@auth.authenticate`` handler as the gateway's (an ``Authorization``
  header, or the token a person signed in with, kept in a cookie); a person
  sees only the interrupts of threads their ``threads:read`` handler lets them
  read (its filter over the run's metadata the event carries), answers with
  their own credentials (the gateway authorises the resume as them), and is
  named by the handler (``display_name``), not by a form field.

Form posts must come from the inbox's own origin.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from langgraph_sdk import Auth

from relaygraph.auth import Access, Authenticator, AuthFailed, Caller, matches
from relaygraph.contracts import InterruptEvent

COOKIE = "relaygraph_reviewer"
OPEN_PATHS = {"/ok", "/login", "/inbox.css", "/inbox.js", "/favicon.svg", "/favicon.ico"}

Handler = Callable[[Request], Awaitable[Response]]


def cookie_value(api_key: str) -> str:
    return hashlib.sha256(b"relaygraph-reviewer-session:" + api_key.encode()).hexdigest()


def to_root(request: Request) -> str:
    """The inbox root relative to the request's path (works behind a path prefix)."""
    depth = request.url.path.count("/") - 1
    return "../" * depth if depth > 0 else "./"


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is None:
        return True
    hosts = {request.headers.get("host"), request.headers.get("x-forwarded-host")}
    return urlsplit(origin).netloc in hosts - {None}


class InboxAuth:
    """The inbox's guard (:meth:`middleware`) and each person's view."""

    def __init__(
        self,
        api_key: str | None = None,
        auth: Auth | None = None,
        named_keys: dict[str, str] | None = None,
    ) -> None:
        self.api_key = api_key
        self.auth = auth
        self.authenticator = Authenticator(auth) if auth is not None else None
        self.named_keys = named_keys or {}
        """Name -> key: a person's own key names their answers."""

    @property
    def signs_in(self) -> bool:
        return bool(self.api_key) or bool(self.named_keys) or self.auth is not None

    def key_name(self, request: Request) -> str | None:
        """The name of the person's own key, when they used one."""
        name: str | None = getattr(request.state, "key_name", None)
        return name

    def session_of(self, supplied: str) -> tuple[str, str | None] | None:
        """(the cookie value, the key's name) for a key signed in with; None
        for a wrong one."""
        for name, key in self.named_keys.items():
            if hmac.compare_digest(supplied.encode(), key.encode()):
                return cookie_value(key), name
        if self.api_key and hmac.compare_digest(supplied.encode(), self.api_key.encode()):
            return cookie_value(self.api_key), None
        return None

    def authorization(self, request: Request) -> str | None:
        """The credentials of the request (custom auth): its ``Authorization``
        header, else the token its person signed in with."""
        if self.auth is None:
            return None
        given = request.headers.get("authorization")
        token = request.cookies.get(COOKIE)
        return given or (f"Bearer {token}" if token else None)

    async def authenticate(self, authorization: str | None, request: Request) -> Caller:
        assert self.authenticator is not None
        headers = [(k, v) for k, v in request.scope["headers"] if k != b"authorization"]
        if authorization:
            headers.append((b"authorization", authorization.encode()))
        return await self.authenticator({**request.scope, "headers": headers})

    def caller(self, request: Request) -> Caller | None:
        """Who is asking (custom auth), as the middleware found."""
        return getattr(request.state, "caller", None)

    async def visible(self, request: Request, event: InterruptEvent) -> bool:
        """Whether the person may read the interrupt's thread."""
        return await self.may_read(request, event.thread_id, event.metadata)

    async def may_read(self, request: Request, thread_id: str, metadata: dict[str, Any]) -> bool:
        """Whether the person may read a thread of that metadata."""
        caller = self.caller(request)
        if self.auth is None or caller is None:
            return True
        access = Access(self.auth, caller)
        try:
            found = await access.check("threads", "read", {"thread_id": thread_id})
        except AuthFailed:
            return False
        return matches(metadata, found)

    def _has_key(self, request: Request) -> bool:
        """Whether the request carries a key (or the session of one); the
        key's name, if it has one, is left in ``request.state.key_name``."""
        supplied = request.headers.get("x-api-key")
        authorization = request.headers.get("authorization", "")
        if not supplied and authorization.lower().startswith("bearer "):
            supplied = authorization[7:].strip()
        keys = [*self.named_keys.items(), *([(None, self.api_key)] if self.api_key else [])]
        cookie = request.cookies.get(COOKIE, "")
        for name, key in keys:
            given = bool(supplied) and hmac.compare_digest(str(supplied).encode(), key.encode())
            session = bool(cookie) and hmac.compare_digest(
                cookie.encode(), cookie_value(key).encode()
            )
            if given or session:
                request.state.key_name = name
                return True
        return False

    async def middleware(self, request: Request, call_next: Handler) -> Response:
        """Refuse cross-origin form posts, ask for credentials (JSON 401 for
        programs, the sign-in page for people), set safe headers."""
        path = request.url.path
        is_api = path.startswith("/api/") or path in ("/docs", "/openapi.json", "/metrics")
        if request.method == "POST" and not is_api and not _same_origin(request):
            return JSONResponse({"detail": "cross-origin form post refused"}, status_code=403)
        if path not in OPEN_PATHS:
            refused = await self._refusal(request, is_api)
            if refused is not None:
                return refused
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    async def _refusal(self, request: Request, is_api: bool) -> Response | None:
        if self.auth is not None:
            try:
                request.state.caller = await self.authenticate(self.authorization(request), request)
                return None
            except AuthFailed as exc:
                if is_api:
                    return JSONResponse({"detail": exc.message}, exc.status, exc.headers)
                return RedirectResponse(to_root(request) + "login", status_code=303)
        if (self.api_key or self.named_keys) and not self._has_key(request):
            if is_api:
                return JSONResponse(
                    {"detail": "missing or wrong API key (x-api-key header)"}, status_code=401
                )
            return RedirectResponse(to_root(request) + "login", status_code=303)
        return None
