"""The inbox's HTML, for people: ``GET /`` (the inbox), ``POST
/inbox/{thread_id}/resume`` (its forms), ``/login`` and ``/logout`` (with an API
key), and the page's assets."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, quote

import httpx
from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse, StreamingResponse

from relaygraph.auth import AuthFailed
from relaygraph.errors import InvalidInput, NotFound, RelaygraphError
from relaygraph_reviewer.assets import FAVICON, SCRIPT, STYLESHEET
from relaygraph_reviewer.audit_page import answered_page
from relaygraph_reviewer.context_view import context_block
from relaygraph_reviewer.history_page import fetch_history, history_page
from relaygraph_reviewer.human import response_from_form
from relaygraph_reviewer.inbox import AnsweredItem
from relaygraph_reviewer.pages import Flash, card, inbox_page, login_page
from relaygraph_reviewer.service import Reviewer
from relaygraph_reviewer.web_api import may_answer, reviewer_name
from relaygraph_reviewer.web_auth import COOKIE, InboxAuth, to_root

LIVE_INTERVAL = 1.0
"""Seconds between two looks at the pending list for an open page."""
KEEP_ALIVE = 15.0
PAGE = 50
"""Answers per page of the audit."""
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self'; form-action 'self'; base-uri 'self'; frame-ancestors 'none'"
)


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
    """(resume, per_interrupt) from an inbox form; a pressed HumanInterrupt
    control, then a clicked quick button, wins."""
    pressed = response_from_form(form)
    if pressed is not None:
        iid, response = pressed
        return {iid: response}, True
    texts = {k.removeprefix("resume:"): v for k, v in form.items() if k.startswith("resume:")}
    quick = {k.removeprefix("quick:"): v for k, v in form.items() if k.startswith("quick:")}
    texts.update(quick)
    if texts:
        return {iid: _parse_json(text, f"interrupt {iid}") for iid, text in texts.items()}, True
    return _parse_json(form.get("resume", ""), "this interrupt"), False


def assets_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/ok")
    async def ok() -> dict[str, bool]:
        return {"ok": True}

    @router.get("/inbox.css")
    async def stylesheet() -> Response:
        return Response(STYLESHEET, media_type="text/css")

    @router.get("/favicon.svg")
    @router.get("/favicon.ico")
    async def favicon() -> Response:
        return Response(FAVICON, media_type="image/svg+xml")

    @router.get("/inbox.js")
    async def script() -> Response:
        return Response(SCRIPT, media_type="text/javascript")

    return router


class InboxPages:
    """The inbox page and its forms, over a running :class:`Reviewer`."""

    def __init__(self, reviewer: Reviewer, guard: InboxAuth, api_url: str | None = None) -> None:
        self.reviewer = reviewer
        self.guard = guard
        self.api_url = api_url

    def router(self) -> APIRouter:
        router = APIRouter(include_in_schema=False)
        router.add_api_route("/", self.inbox, methods=["GET"], response_class=HTMLResponse)
        router.add_api_route("/inbox/{thread_id}/resume", self.answer_form, methods=["POST"])
        router.add_api_route("/answered", self.answered, methods=["GET"])
        router.add_api_route("/api/stream", self.stream, methods=["GET"])
        router.add_api_route(
            "/threads/{thread_id}/history",
            self.history,
            methods=["GET"],
            response_class=HTMLResponse,
        )
        return router

    async def render(
        self, request: Request, flash: Flash | None = None, status_code: int = 200
    ) -> HTMLResponse:
        inbox, visible = self.reviewer.inbox, self.guard.visible
        caller = self.guard.caller(request)
        root = to_root(request)
        pending = [i for i in await inbox.pending() if await visible(request, i.event)]
        values = await inbox.values_of([i.event.thread_id for i in pending])
        page = inbox_page(
            pending,
            [a for a in await inbox.recent() if await visible(request, a.event)],
            flash=flash,
            logout=self.guard.signs_in,
            base="" if root == "./" else root,
            who=caller.user.display_name if caller is not None else self.guard.key_name(request),
            contexts={tid: context_block(v) for tid, v in values.items()},
            history=self.api_url is not None,
        )
        return _html(page, status_code)

    async def inbox(self, request: Request, answered: str = "", failed: str = "") -> HTMLResponse:
        """The page, with what became of the last answer when it says so."""
        return await self.render(request, await self._flash(answered, failed))

    async def stream(self, request: Request) -> StreamingResponse:
        """Server-Sent Events for an open inbox page: an ``inbox`` event with
        the pending interrupts' ids, the cards of those it has not seen yet,
        and the count per graph, each time the pending list changes."""
        inbox, visible = self.reviewer.inbox, self.guard.visible
        caller = self.guard.caller(request)
        who = caller.user.display_name if caller is not None else self.guard.key_name(request)

        async def events() -> AsyncIterator[str]:
            known: set[str] | None = None
            quiet = 0.0
            while not await request.is_disconnected():
                pending = [i for i in await inbox.pending() if await visible(request, i.event)]
                ids = [i.msg_id for i in pending]
                if known is None or set(ids) != known:
                    new = [i for i in pending if known is None or i.msg_id not in known]
                    values = await inbox.values_of([i.event.thread_id for i in new])
                    added = [
                        card(
                            i,
                            who,
                            context_block(values.get(i.event.thread_id)),
                            self.api_url is not None,
                        )
                        for i in new
                    ]
                    counts: dict[str, int] = {}
                    for item in pending:
                        counts[item.event.graph_id] = counts.get(item.event.graph_id, 0) + 1
                    change = {"pending": ids, "added": added, "counts": counts}
                    yield f"event: inbox\ndata: {json.dumps(change)}\n\n"
                    known, quiet = set(ids), 0.0
                elif quiet >= KEEP_ALIVE:
                    yield ": keep-alive\n\n"
                    quiet = 0.0
                await asyncio.sleep(LIVE_INTERVAL)
                quiet += LIVE_INTERVAL

        return StreamingResponse(
            events(), media_type="text/event-stream", headers={"Cache-Control": "no-store"}
        )

    async def history(self, request: Request, thread_id: str) -> HTMLResponse:
        """The thread's checkpoints, read from the API as this person."""
        if self.api_url is None:
            raise NotFound("no REVIEWER_API_URL: the inbox does not know the API")
        headers = {}
        if (authorization := self.guard.authorization(request)) is not None:
            headers["Authorization"] = authorization
        elif self.guard.api_key:
            headers["x-api-key"] = self.guard.api_key
        async with httpx.AsyncClient(timeout=10) as http:
            states = await fetch_history(http, self.api_url, thread_id, headers)
        return _html(history_page(thread_id, states, logout=self.guard.signs_in))

    async def answered(self, request: Request, before: str | None = None) -> HTMLResponse:
        """The audit, newest first, a page at a time."""
        entries = await self.reviewer.inbox.audit(PAGE, before)
        shown = [e for e in entries if await self.guard.may_read(request, e.thread_id, e.metadata)]
        older = entries[-1].id if len(entries) == PAGE else None
        return _html(answered_page(shown, older, logout=self.guard.signs_in))

    async def _flash(self, answered: str, failed: str) -> Flash | None:
        inbox = self.reviewer.inbox
        if answered:
            done = next((a for a in await inbox.recent() if a.msg_id == answered), None)
            if done is not None:
                return Flash(
                    True,
                    f"Resumed thread {done.event.thread_id} ({done.event.graph_id}) "
                    f"with the answer of {done.reviewer}.",
                    run_id=done.run_id,
                    status=done.status,
                )
        elif failed:
            item = await inbox.get(failed)
            if item is not None and item.last_error is not None:
                error = item.last_error
                return Flash(
                    False, f"Resume of thread {failed} failed: {error.code}: {error.message}"
                )
        return None

    async def answer_form(self, request: Request, thread_id: str) -> Response:
        form = await _form(request)
        who = reviewer_name(self.guard, request, form.get("reviewer"))
        root = to_root(request)
        try:
            msg_id = form.get("msg_id") or None
            await may_answer(self.reviewer, self.guard, request, thread_id, msg_id)
            answers, per_interrupt = _form_answers(form)
            result = await self.reviewer.answer(
                thread_id,
                answers,
                who,
                msg_id=form.get("msg_id") or None,
                per_interrupt=per_interrupt,
                authorization=self.guard.authorization(request),
            )
        except RelaygraphError as exc:
            flash = Flash(False, f"Not sent: {exc.message}")
            return await self.render(request, flash, status_code=exc.status)
        if isinstance(result, AnsweredItem):
            target = f"{root}?answered={quote(result.msg_id, safe='')}#recent"
        else:
            target = f"{root}?failed={quote(thread_id, safe='')}#thread-{quote(thread_id)}"
        return RedirectResponse(target, status_code=303)


def session_router(guard: InboxAuth) -> APIRouter:
    """Signing in with the API key sets a session cookie (not the key itself);
    with custom auth, the person's token, checked by the authenticate handler,
    is kept in the cookie and sent as their credentials."""
    router = APIRouter(include_in_schema=False)
    with_token = guard.auth is not None

    @router.get("/login", response_class=HTMLResponse)
    async def login_form() -> Response:
        if not guard.signs_in:
            return RedirectResponse("./", status_code=303)
        return _html(login_page(token=with_token))

    @router.post("/login")
    async def login(request: Request) -> Response:
        if not guard.signs_in:
            return RedirectResponse("./", status_code=303)
        supplied = (await _form(request)).get("api_key", "")
        if with_token:
            try:
                await guard.authenticate(f"Bearer {supplied}", request)
            except AuthFailed as exc:
                return _html(login_page(f"Not signed in: {exc.message}", token=True), 401)
            session = supplied
        else:
            found = guard.session_of(supplied)
            if found is None:
                return _html(login_page("That is not the API key."), 401)
            session = found[0]
        response = RedirectResponse("./", status_code=303)
        response.set_cookie(
            COOKIE,
            session,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            max_age=7 * 24 * 3600,
        )
        return response

    @router.post("/logout")
    async def logout() -> Response:
        response = RedirectResponse("login", status_code=303)
        response.delete_cookie(COOKIE)
        return response

    return router
