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

from relaygraph.errors import BadRequest, NotFound
from relaygraph.runs import now_iso, now_ms
from relaygraph_gateway.assistant_rules import only
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


async def _create(g: Gateway, thread_id: str | None, body: CronCreate) -> dict[str, Any]:
    check_schedule(body.schedule)
    check_timezone(body.timezone)
    assistant = await g.assistant_for_run(body.assistant_id)
    if thread_id is not None:
        await g.threads.get(check_id("thread_id", thread_id))  # 404 when it does not exist
    cron_id = str(uuid.uuid4())
    doc = new_cron(
        body,
        body.model_dump(mode="json", exclude_unset=True),
        cron_id=cron_id,
        assistant_id=assistant["assistant_id"],
        thread_id=thread_id,
        now=now_iso(),
    )
    next_ms = next_fire(body.schedule, body.timezone, now_ms())
    await g.vet_run(run_body(doc))
    return shown(await g.crons.put(doc, next_ms))


async def _get(g: Gateway, cron_id: str) -> dict[str, Any]:
    doc = await g.crons.get(cron_id)
    if doc is None:
        raise NotFound("Not Found")
    return doc


@router.post("/runs/crons")
async def create_cron(body: CronCreate, request: Request) -> Response:
    return JSON(await _create(gw(request), None, body))


@router.post("/threads/{thread_id}/runs/crons")
async def create_thread_cron(thread_id: str, body: CronCreate, request: Request) -> Response:
    return JSON(await _create(gw(request), thread_id, body))


@router.get("/runs/crons/{cron_id}")
async def get_cron(cron_id: str, request: Request) -> Response:
    return JSON(shown(await _get(gw(request), cron_id)))


@router.patch("/runs/crons/{cron_id}")
async def patch_cron(cron_id: str, body: CronPatch, request: Request) -> Response:
    g = gw(request)
    fields = body.model_dump(mode="json", exclude_unset=True)
    if not fields:
        raise BadRequest("Request body cannot be empty")
    if body.schedule is not None:
        check_schedule(body.schedule)
    check_timezone(body.timezone)

    async def change(doc: dict[str, Any], next_ms: int | None) -> tuple[dict[str, Any], int | None]:
        new, reschedule = patched(doc, body, fields, now_iso())
        await g.vet_run(run_body(new))
        if reschedule:
            next_ms = next_fire(new["schedule"], new["timezone"], now_ms())
        return new, next_ms

    doc = await g.crons.patch(cron_id, change)
    if doc is None:
        raise NotFound(f"Cron '{cron_id}' not found")
    return JSON(shown(doc))


@router.delete("/runs/crons/{cron_id}", status_code=204)
async def delete_cron(cron_id: str, request: Request) -> Response:
    if not await gw(request).crons.delete(cron_id):
        raise NotFound("Not Found")
    return Response(status_code=204)


async def _found(g: Gateway, body: CronCount) -> list[dict[str, Any]]:
    assistant = g.assistant_id_of(body.assistant_id) if body.assistant_id else None
    enabled = body.enabled if isinstance(body, CronSearch) else None
    return [
        doc
        for doc in await g.crons.all()
        if (assistant is None or doc["assistant_id"] == assistant)
        and (body.thread_id is None or doc["thread_id"] == body.thread_id)
        and (enabled is None or doc["enabled"] == enabled)
        and (not body.metadata or matches(doc["metadata"], body.metadata))
    ]


@router.post("/runs/crons/search")
async def search_crons(body: CronSearch, request: Request) -> Response:
    found = await _found(gw(request), body)
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
    return JSON(len(await _found(gw(request), body)))
