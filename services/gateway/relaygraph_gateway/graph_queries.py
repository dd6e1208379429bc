"""What only a graph knows, asked of the executors: state, history, state
updates, drawings and schemas (the gateway never imports graph code).

A mixin of :class:`relaygraph_gateway.core.Gateway`, whose NATS connection,
subjects, settings and graph catalog it uses.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import msgspec
from nats.aio.client import Client
from nats.errors import NoRespondersError, TimeoutError

from relaygraph.catalog import CatalogCache
from relaygraph.contracts import GraphQuery, GraphReply, decode, encode
from relaygraph.errors import GraphUnavailable, Unavailable, from_code
from relaygraph.settings import GatewaySettings
from relaygraph.subjects import Subjects
from relaygraph_gateway.input_check import check_input


class GraphQueries:
    nc: Client
    subjects: Subjects
    settings: GatewaySettings
    catalog: CatalogCache

    async def query(self, q: GraphQuery) -> msgspec.Raw:
        """Ask any executor (state, history, update_state, drawings). While
        none is subscribed (starting, restarting) the question is asked again
        until ``query_timeout``."""
        deadline = time.monotonic() + self.settings.query_timeout
        delay = 0.05
        while True:
            left = deadline - time.monotonic()
            try:
                msg = await self.nc.request(
                    self.subjects.graph_query, encode(q), timeout=max(left, 0.01)
                )
                break
            except NoRespondersError as exc:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise self._no_executor(q) from exc
                await asyncio.sleep(min(delay, left))
                delay = min(delay * 2, 0.5)
            except TimeoutError as exc:
                raise self._no_executor(q) from exc
        reply = decode(msg.data, GraphReply)
        if reply.error is not None:
            raise from_code(reply.error.code, reply.error.message)
        return reply.result

    def _no_executor(self, q: GraphQuery) -> Unavailable:
        return Unavailable(
            f"no executor answered for graph {q.graph_id!r} within "
            f"{self.settings.query_timeout}s; is `relaygraph executor` running?"
        )

    async def schemas(self, graph_id: str) -> dict[str, Any]:
        """The graph's schemas as executors published them; asked of a live
        executor only when none has published them yet."""
        entry = await self.catalog.get(graph_id)
        if entry is not None and entry.schemas is not None:
            return entry.schemas
        if entry is not None and entry.error is not None:
            raise GraphUnavailable(entry.error)
        schemas: dict[str, Any] = msgspec.json.decode(
            await self.query(GraphQuery(op="schemas", graph_id=graph_id))
        )
        self.catalog.forget(graph_id)  # executors publish before they answer
        return schemas

    async def check_input(self, graph_id: str, value: Any) -> None:
        """Refuse input the graph cannot take (by its published input schema)."""
        if value is not None:
            check_input(graph_id, value, await self.catalog.get(graph_id))
