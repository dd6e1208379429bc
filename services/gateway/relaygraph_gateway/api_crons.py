"""Crons, as LangGraph Server serves them: a stateless cron makes a new thread
for each run, a thread's cron runs on that thread. Kept in Redis
(``relaygraph.crons``) and fired by every gateway's scheduler
(``cron_scheduler``), each tick once.

Stricter than the reference: a cron's run is vetted (assistant, input, the
run's own rules) when the cron is made or patched, not only when it fires.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response
from starlette.types import Scope

from relaygraph.errors import BadRequest, NotFound
from relaygraph.runs import now_iso, now_ms
from relaygraph_gateway import guards
from relaygraph_gateway.assistant_rules import only
from relaygraph_gateway.authz import access_of
from relaygraph_gateway.authz import matches as auth_matches
from relaygraph_gateway.core import Gateway, check_id, gw
from relaygraph_gateway.cron_models import CronCount, CronCreate, CronPatch, CronSearch
from relaygraph_gateway.cron_rules import (
    check_schedule,
    check_timezone,
    new_cron,
    next_fire,
    patched,
    run_body,
    shown,
)
from relaygraph_gateway.render import JSON, matches, page_headers

router = APIRouter(tags=["crons"])


async def _create(
    g: Gateway, scope: Scope, thread_id: str | None, body: CronCreate
) -> dict[str, Any]:
    check_schedule(body.schedule)
    check_timezone(body.timezone)
    assistant = await g.assistant_for_run(body.assistant_id)
    if thread_id is not None:
        await g.threads.get(check_id("thread_id", thread_id))  # 404 when it does not exist
    cron_id = str(uuid.uuid4())
    user = access_of(scope).caller.user.identity
    value = {
        "payload": body.model_dump(mode="json", exclude_unset=True),
        "schedule": body.schedule,
        "cron_id": cron_id,
        "thread_id": thread_id,
        "user_id": user,
        "end_time": body.end_time,
        "metadata": body.metadata,
    }
    metadata, _ = await guards.created(scope, "crons", value)
    if (assistant.get("metadata") or {}).get("created_by") != "system":
        await guards.assistant(
            scope, assistant, hidden=NotFound(f"Assistant '{body.assistant_id}' not found")
        )
    if thread_id is not None:
        await guards.thread(scope, g, thread_id, value={"thread_id": thread_id, "metadata": {}})
    body = body.model_copy(update={"metadata": metadata or body.metadata})
    doc = new_cron(
        body,
        body.model_dump(mode="json", exclude_unset=True),
        cron_id=cron_id,
        assistant_id=assistant["assistant_id"],
        thread_id=thread_id,
        now=now_iso(),
        user_id=user,
    )
    next_ms = next_fire(body.schedule, body.timezone, now_ms())
    await g.vet_run(run_body(doc))
    return shown(await g.crons.put(doc, next_ms))


async def _get(g: Gateway, cron_id: str, scope: Scope) -> dict[str, Any]:
    doc = await g.crons.get(cron_id)
    if doc is None:
        raise NotFound("Not Found")
    await guards.cron(scope, doc)
    return doc


@router.post("/runs/crons")
async def create_cron(body: CronCreate, request: Request) -> Response:
    return JSON(await _create(gw(request), request.scope, None, body))


@router.post("/threads/{thread_id}/runs/crons")
async def create_thread_cron(thread_id: str, body: CronCreate, request: Request) -> Response:
    return JSON(await _create(gw(request), request.scope, thread_id, body))


@router.get("/runs/crons/{cron_id}")
async def get_cron(cron_id: str, request: Request) -> Response:
    return JSON(shown(await _get(gw(request), cron_id, request.scope)))


@router.patch("/runs/crons/{cron_id}")
async def patch_cron(cron_id: str, body: CronPatch, request: Request) -> Response:
    g = gw(request)
    fields = body.model_dump(mode="json", exclude_unset=True)
    if not fields:
        raise BadRequest("Request body cannot be empty")
    if body.schedule is not None:
        check_schedule(body.schedule)
    check_timezone(body.timezone)
    missing = NotFound(f"Cron '{cron_id}' not found")
    current = await g.crons.get(cron_id)
    if current is None:
        raise missing
    value = {"cron_id": cron_id} | {
        k: fields.get(k) for k in ("schedule", "end_time", "enabled", "on_run_completed")
    }
    value["payload"] = fields
    if "metadata" in fields:
        value["metadata"] = dict(fields["metadata"] or {})
    await guards.cron(request.scope, current, "update", value, missing)
    if "metadata" in value:
        body = body.model_copy(update={"metadata": value["metadata"]})

    async def change(doc: dict[str, Any], next_ms: int | None) -> tuple[dict[str, Any], int | None]:
        new, reschedule = patched(doc, body, fields, now_iso())
        await g.vet_run(run_body(new))
        if reschedule:
            next_ms = next_fire(new["schedule"], new["timezone"], now_ms())
        return new, next_ms

    doc = await g.crons.patch(cron_id, change)
    if doc is None:
        raise missing
    return JSON(shown(doc))


@router.delete("/runs/crons/{cron_id}", status_code=204)
async def delete_cron(cron_id: str, request: Request) -> Response:
    g = gw(request)
    doc = await g.crons.get(cron_id)
    if doc is not None:
        await guards.cron(request.scope, doc, "delete")
    if not await g.crons.delete(cron_id):
        raise NotFound("Not Found")
    return Response(status_code=204)


async def _found(
    g: Gateway, scope: Scope, body: CronCount, limit: int = 0, offset: int = 0
) -> list[dict[str, Any]]:
    assistant = g.assistant_id_of(body.assistant_id) if body.assistant_id else None
    enabled = body.enabled if isinstance(body, CronSearch) else None
    value = {"assistant_id": assistant, "thread_id": body.thread_id, "limit": limit}
    auth = await guards.search(
        scope, "crons", value | {"offset": offset, "metadata": body.metadata}
    )
    if body.thread_id is not None:
        try:
            await guards.thread(scope, g, body.thread_id)
        except NotFound:
            return []  # a thread the caller may not see has no crons for it
    return [
        doc
        for doc in await g.crons.all()
        if auth_matches(doc["metadata"], auth)
        and (assistant is None or doc["assistant_id"] == assistant)
        and (body.thread_id is None or doc["thread_id"] == body.thread_id)
        and (enabled is None or doc["enabled"] == enabled)
        and (not body.metadata or matches(doc["metadata"], body.metadata))
    ]


@router.post("/runs/crons/search")
async def search_crons(body: CronSearch, request: Request) -> Response:
    found = await _found(gw(request), request.scope, body, body.limit, body.offset)
    key = body.sort_by or "created_at"
    descending = body.sort_order != "asc"
    found.sort(key=lambda d: (d.get(key) is not None, d.get(key) or ""), reverse=descending)
    page = found[body.offset : body.offset + body.limit]
    return JSON(
        [only(shown(doc), body.select) for doc in page],
        headers=page_headers(len(found), body.offset, body.limit),
    )


@router.post("/runs/crons/count")
async def count_crons(body: CronCount, request: Request) -> Response:
    return JSON(len(await _found(gw(request), request.scope, body)))
