"""The inbox over HTTP: HTML pages for people, JSON for programs.

Routes: ``GET /`` (inbox), ``POST /inbox/{thread_id}/resume`` (its forms),
``GET /api/interrupts``, ``GET /api/interrupts/{thread_id}``,
``POST /api/interrupts/{thread_id}/resume``, ``GET /api/answered``, ``GET /ok``,
and ``/login`` + ``/logout`` when an API key is set.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import msgspec
from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from pydantic import BaseModel, Field
from redis.exceptions import RedisError

from relaygraph.errors import InvalidInput, NotFound, RelaygraphError, from_code
from relaygraph_reviewer.inbox import AnsweredItem, PendingItem
from relaygraph_reviewer.pages import (
    FAVICON,
    SCRIPT,
    STYLESHEET,
    Flash,
    inbox_page,
    login_page,
)
from relaygraph_reviewer.service import Reviewer

COOKIE = "relaygraph_reviewer"
_OPEN_PATHS = {"/ok", "/login", "/inbox.css", "/inbox.js", "/favicon.svg", "/favicon.ico"}
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self'; form-action 'self'; base-uri 'self'; frame-ancestors 'none'"
)
_REVIEWER_MAX = 100


class ResumeBody(BaseModel):
    resume: Any = None
    """The answer: a plain value, or a map interrupt id -> value."""
    reviewer: str | None = Field(None, max_length=_REVIEWER_MAX)
    msg_id: str | None = None
    """Optional guard: answer only if this interrupt is still the pending one."""


def pending_json(item: PendingItem, resume_subject: str) -> dict[str, Any]:
    body: dict[str, Any] = msgspec.to_builtins(item.event)
    body.update(
        msg_id=item.msg_id,
        received_at=item.received_at,
        last_error=msgspec.to_builtins(item.last_error),
        resume_subject=resume_subject,
    )
    return body


def answered_json(item: AnsweredItem) -> dict[str, Any]:
    event = item.event
    return {
        "msg_id": item.msg_id,
        "thread_id": event.thread_id,
        "graph_id": event.graph_id,
        "assistant_id": event.assistant_id,
        "interrupted_run_id": event.run_id,
        "interrupts": msgspec.to_builtins(event.interrupts),
        "created_at": event.created_at,
        "reviewer": item.reviewer,
        "resume": item.resume,
        "run_id": item.run_id,
        "status": item.status,
        "answered_at": item.answered_at,
    }


def _error_status(code: str) -> int:
    status = from_code(code, "").status
    return 502 if status == 500 else status


def _cookie_value(api_key: str) -> str:
    return hashlib.sha256(b"relaygraph-reviewer-session:" + api_key.encode()).hexdigest()


def _authorized(request: Request, api_key: str) -> bool:
    supplied = request.headers.get("x-api-key")
    authorization = request.headers.get("authorization", "")
    if not supplied and authorization.lower().startswith("bearer "):
        supplied = authorization[7:].strip()
    if supplied and hmac.compare_digest(supplied.encode(), api_key.encode()):
        return True
    cookie = request.cookies.get(COOKIE, "")
    return bool(cookie) and hmac.compare_digest(cookie.encode(), _cookie_value(api_key).encode())


def _to_root(request: Request) -> str:
    """The inbox root relative to the request's path (works behind a path prefix)."""
    depth = request.url.path.count("/") - 1
    return "../" * depth if depth > 0 else "./"


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is None:
        return True
    hosts = {request.headers.get("host"), request.headers.get("x-forwarded-host")}
    return urlsplit(origin).netloc in hosts - {None}


def _html(page: str, status_code: int = 200) -> HTMLResponse:
    """An inbox page: no inline script may run, no framing, no caching."""
    return HTMLResponse(
        page,
        status_code=status_code,
        headers={
            "Content-Security-Policy": _CSP,
            "X-Frame-Options": "DENY",
            "Cache-Control": "no-store",
        },
    )


async def _form(request: Request) -> dict[str, str]:
    raw = (await request.body()).decode("utf-8", "replace")
    return {key: values[-1] for key, values in parse_qs(raw, keep_blank_values=True).items()}


def _parse_json(text: str, what: str) -> Any:
    if not text.strip():
        raise InvalidInput(f"the answer for {what} is empty: type a JSON value (null for none)")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"the answer for {what} is not valid JSON: {exc}") from exc


def _form_answers(form: dict[str, str]) -> tuple[Any, bool]:
    """(resume, per_interrupt) from an inbox form; a clicked quick button wins."""
    texts = {k.removeprefix("resume:"): v for k, v in form.items() if k.startswith("resume:")}
    quick = {k.removeprefix("quick:"): v for k, v in form.items() if k.startswith("quick:")}
    texts.update(quick)
    if texts:
        return {iid: _parse_json(text, f"interrupt {iid}") for iid, text in texts.items()}, True
    return _parse_json(form.get("resume", ""), "this interrupt"), False


def create_app(reviewer: Reviewer, *, api_key: str | None = None) -> FastAPI:
    """The inbox app over a running :class:`Reviewer` (its lifespan is the caller's)."""
    app = FastAPI(title="relaygraph reviewer", version="0.1.0")
    subjects = reviewer.subjects

    @app.middleware("http")
    async def guard(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        path = request.url.path
        is_api = path.startswith("/api/")
        if request.method == "POST" and not is_api and not _same_origin(request):
            return JSONResponse({"detail": "cross-origin form post refused"}, status_code=403)
        if api_key and path not in _OPEN_PATHS and not _authorized(request, api_key):
            if is_api or path in ("/docs", "/openapi.json"):
                return JSONResponse(
                    {"detail": "missing or wrong API key (x-api-key header)"}, status_code=401
                )
            return RedirectResponse(_to_root(request) + "login", status_code=303)
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    @app.exception_handler(RelaygraphError)
    async def relaygraph_error(request: Request, exc: RelaygraphError) -> JSONResponse:
        return JSONResponse({"detail": exc.message}, status_code=exc.status)

    @app.exception_handler(RedisError)
    async def redis_error(request: Request, exc: RedisError) -> JSONResponse:
        return JSONResponse({"detail": f"the inbox store is unavailable: {exc}"}, status_code=503)

    # -- health and assets ---------------------------------------------------
    @app.get("/ok", include_in_schema=False)
    async def ok() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/inbox.css", include_in_schema=False)
    async def stylesheet() -> Response:
        return Response(STYLESHEET, media_type="text/css")

    @app.get("/favicon.svg", include_in_schema=False)
    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> Response:
        return Response(FAVICON, media_type="image/svg+xml")

    @app.get("/inbox.js", include_in_schema=False)
    async def script() -> Response:
        return Response(SCRIPT, media_type="text/javascript")

    # -- JSON API --------------------------------------------------------------
    @app.get("/api/interrupts")
    async def list_pending() -> list[dict[str, Any]]:
        """Pending interrupts, oldest first."""
        items = await reviewer.inbox.pending()
        return [pending_json(i, subjects.resume(i.event.thread_id)) for i in items]

    @app.get("/api/interrupts/{thread_id}")
    async def get_pending(thread_id: str) -> dict[str, Any]:
        item = await reviewer.inbox.get(thread_id)
        if item is None:
            raise NotFound(f"no pending interrupt for thread {thread_id}")
        return pending_json(item, subjects.resume(thread_id))

    @app.post("/api/interrupts/{thread_id}/resume")
    async def resume(thread_id: str, body: ResumeBody) -> JSONResponse:
        """Answer a thread's pending interrupt: the reply of the gateway, or its error."""
        who = (body.reviewer or "").strip() or "anonymous"
        result = await reviewer.answer(thread_id, body.resume, who, msg_id=body.msg_id)
        if isinstance(result, AnsweredItem):
            return JSONResponse(
                {
                    "run_id": result.run_id,
                    "thread_id": thread_id,
                    "status": result.status,
                    "reviewer": who,
                    "msg_id": result.msg_id,
                }
            )
        return JSONResponse(
            {"detail": result.message, "error": msgspec.to_builtins(result)},
            status_code=_error_status(result.code),
        )

    @app.get("/api/answered")
    async def list_answered(limit: int = 50) -> list[dict[str, Any]]:
        """Answered interrupts, newest first."""
        return [answered_json(a) for a in await reviewer.inbox.recent(max(1, min(limit, 200)))]

    # -- HTML ------------------------------------------------------------------
    async def render(
        request: Request, flash: Flash | None = None, status_code: int = 200
    ) -> HTMLResponse:
        pending = await reviewer.inbox.pending()
        recent = await reviewer.inbox.recent()
        root = _to_root(request)
        page = inbox_page(
            pending,
            recent,
            flash=flash,
            logout=bool(api_key),
            base="" if root == "./" else root,
        )
        return _html(page, status_code)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def inbox(request: Request, answered: str = "", failed: str = "") -> HTMLResponse:
        flash = None
        if answered:
            done = next((a for a in await reviewer.inbox.recent() if a.msg_id == answered), None)
            if done is not None:
                flash = Flash(
                    True,
                    f"Resumed thread {done.event.thread_id} ({done.event.graph_id}) "
                    f"with the answer of {done.reviewer}.",
                    run_id=done.run_id,
                    status=done.status,
                )
        elif failed:
            item = await reviewer.inbox.get(failed)
            if item is not None and item.last_error is not None:
                flash = Flash(
                    False,
                    f"Resume of thread {failed} failed: {item.last_error.code}: "
                    f"{item.last_error.message}",
                )
        return await render(request, flash)

    @app.post("/inbox/{thread_id}/resume", include_in_schema=False)
    async def answer_form(request: Request, thread_id: str) -> Response:
        form = await _form(request)
        who = form.get("reviewer", "").strip()[:_REVIEWER_MAX] or "anonymous"
        root = _to_root(request)
        try:
            answers, per_interrupt = _form_answers(form)
            result = await reviewer.answer(
                thread_id,
                answers,
                who,
                msg_id=form.get("msg_id") or None,
                per_interrupt=per_interrupt,
            )
        except RelaygraphError as exc:
            flash = Flash(False, f"Not sent: {exc.message}")
            return await render(request, flash, status_code=exc.status)
        if isinstance(result, AnsweredItem):
            target = f"{root}?answered={quote(result.msg_id, safe='')}#recent"
        else:
            target = f"{root}?failed={quote(thread_id, safe='')}#thread-{quote(thread_id)}"
        return RedirectResponse(target, status_code=303)

    # -- sign in (only with an API key) -----------------------------------------
    @app.get("/login", response_class=HTMLResponse, include_in_schema=False)
    async def login_form() -> Response:
        if not api_key:
            return RedirectResponse("./", status_code=303)
        return _html(login_page())

    @app.post("/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        if not api_key:
            return RedirectResponse("./", status_code=303)
        supplied = (await _form(request)).get("api_key", "")
        if not hmac.compare_digest(supplied.encode(), api_key.encode()):
            return _html(login_page("That is not the API key."), 401)
        response = RedirectResponse("./", status_code=303)
        response.set_cookie(
            COOKIE,
            _cookie_value(api_key),
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            max_age=7 * 24 * 3600,
        )
        return response

    @app.post("/logout", include_in_schema=False)
    async def logout() -> Response:
        response = RedirectResponse("login", status_code=303)
        response.delete_cookie(COOKIE)
        return response

    return app
