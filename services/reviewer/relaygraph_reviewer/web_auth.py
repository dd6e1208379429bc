"""Who may use the inbox: an API key (``x-api-key`` or a bearer token) for
programs, a session cookie for people who signed in with it, and same-origin
form posts only.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from fastapi import Request, Response
from fastapi.responses import JSONResponse, RedirectResponse

COOKIE = "relaygraph_reviewer"
OPEN_PATHS = {"/ok", "/login", "/inbox.css", "/inbox.js", "/favicon.svg", "/favicon.ico"}

Handler = Callable[[Request], Awaitable[Response]]


def cookie_value(api_key: str) -> str:
    return hashlib.sha256(b"relaygraph-reviewer-session:" + api_key.encode()).hexdigest()


def _authorized(request: Request, api_key: str) -> bool:
    supplied = request.headers.get("x-api-key")
    authorization = request.headers.get("authorization", "")
    if not supplied and authorization.lower().startswith("bearer "):
        supplied = authorization[7:].strip()
    if supplied and hmac.compare_digest(supplied.encode(), api_key.encode()):
        return True
    cookie = request.cookies.get(COOKIE, "")
    return bool(cookie) and hmac.compare_digest(cookie.encode(), cookie_value(api_key).encode())


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


def guard(api_key: str | None) -> Callable[[Request, Handler], Awaitable[Response]]:
    """The inbox's HTTP middleware: refuse cross-origin form posts, ask for the
    key (JSON 401 for programs, the sign-in page for people), set safe headers."""

    async def middleware(request: Request, call_next: Handler) -> Response:
        path = request.url.path
        is_api = path.startswith("/api/")
        if request.method == "POST" and not is_api and not _same_origin(request):
            return JSONResponse({"detail": "cross-origin form post refused"}, status_code=403)
        if api_key and path not in OPEN_PATHS and not _authorized(request, api_key):
            if is_api or path in ("/docs", "/openapi.json"):
                return JSONResponse(
                    {"detail": "missing or wrong API key (x-api-key header)"}, status_code=401
                )
            return RedirectResponse(to_root(request) + "login", status_code=303)
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    return middleware
