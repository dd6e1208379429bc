"""Limits a public API needs: the size of a request body, and how many
requests one caller may send.

The body limit is checked twice: a ``Content-Length`` over it is refused
before anything is read, and a body sent without one (chunked) is counted as
it arrives, so no route ever holds more than the limit in memory.

The rate limit is a GCRA (the generic cell rate algorithm) kept in Redis, so
every gateway of a deployment counts the same caller together: one script
call per request, one small key per caller that expires when the caller goes
quiet. A caller is the authenticated identity (custom auth), else the API key,
else the client's address.
"""

from __future__ import annotations

import hashlib
import math
import re
import time
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from relaygraph.errors import InvalidInput
from relaygraph.lua import Lua, Script
from relaygraph.pipelining import RoundTrips
from relaygraph.redis_client import RedisClient
from relaygraph_gateway.render import JSON


class BodyLimit:
    """ASGI: a request body over ``limit`` bytes is answered 413."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    def _refusal(self) -> JSON:
        return JSON({"detail": f"Request body is larger than {self.limit} bytes"}, 413)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                length = value
        if length is not None:
            if length.isdigit() and int(length) > self.limit:
                await self._refusal()(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        # No length given (chunked): read it here, up to the limit, then hand
        # it on as it came, so the routes never see more than the limit.
        messages: list[Message] = []
        seen = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            seen += len(message.get("body", b""))
            if seen > self.limit:
                await self._refusal()(scope, receive, send)
                return
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)


_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*(s|sec|second|m|min|minute|h|hour)\s*$")
_PERIODS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60}
_PERIODS |= {"h": 3600, "hour": 3600}


@dataclass(frozen=True)
class Rate:
    """``count`` requests per ``period`` seconds, in bursts of up to ``count``."""

    count: int
    period: float

    @classmethod
    def parse(cls, text: str) -> Rate:
        """``100/s``, ``600/min``, ``5000/h``, ``10/5s``."""
        m = _RATE.match(text)
        if m is None or int(m.group(1)) == 0:
            raise InvalidInput(
                f"RELAYGRAPH_RATE_LIMIT={text!r}: expected requests per period, "
                "such as 100/s, 600/min or 5000/h"
            )
        return cls(int(m.group(1)), int(m.group(2) or 1) * _PERIODS[m.group(3)])

    def __str__(self) -> str:
        return f"{self.count} requests per {self.period:g} s"


_GCRA = Lua(
    "gcra",
    keys=("CALLER",),
    args=("now_us", "interval_us", "burst_us"),
    body="""
local now = tonumber(now_us)
local interval = tonumber(interval_us)
local tat = tonumber(redis.call('GET', CALLER) or now)
if tat < now then tat = now end
local allowed_at = tat - tonumber(burst_us)
if now < allowed_at then return allowed_at - now end
tat = tat + interval
redis.call('SET', CALLER, tat, 'PX', math.ceil((tat - now) / 1000) + 1)
return 0
""",
)


class RateLimiter:
    """One GCRA per caller in Redis, shared by every gateway."""

    def __init__(self, redis: RedisClient, trips: RoundTrips, prefix: str, rate: Rate) -> None:
        self.rate = rate
        self.prefix = prefix
        self._trips = trips
        self._script = Script(redis, _GCRA)
        self._interval_us = int(rate.period * 1_000_000 / rate.count)
        self._burst_us = self._interval_us * (rate.count - 1)

    def key(self, caller: str) -> str:
        digest = hashlib.blake2b(caller.encode(), digest_size=12).hexdigest()
        return f"{self.prefix}:rate:{{{digest}}}"

    async def wait_for(self, caller: str) -> float:
        """0 if ``caller`` may go on now (and the request is counted), else the
        seconds until it may."""
        step = self._script.step(
            CALLER=self.key(caller),
            now_us=int(time.time() * 1_000_000),
            interval_us=self._interval_us,
            burst_us=self._burst_us,
        )
        (wait_us,) = await self._trips.run([step])
        return int(wait_us) / 1_000_000

    def refusal(self, wait: float) -> JSON:
        return JSON(
            {"detail": f"Rate limit exceeded ({self.rate}); retry in {wait:.1f} s"},
            429,
            headers={"Retry-After": str(max(1, math.ceil(wait)))},
        )
