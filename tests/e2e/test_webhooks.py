"""Run webhooks, as LangGraph Server sends them: the finished run POSTed with
its status, times, values and error, retried on a 5xx; only to http(s) hosts
that resolve to public addresses unless langgraph.json's ``webhooks.url``
allows loopback or private ones; signed when ``RELAYGRAPH_WEBHOOK_SECRET`` is set."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
from pathlib import Path
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_client

from tests.system import System, assert_eventually, graphs_config, running_system
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.e2e

SECRET = "a-shared-secret"
WEBHOOKS = {  # to this machine, over http; a header from the environment
    "url": {"disable_loopback": False, "require_https": False},
    "headers": {"Authorization": "Bearer ${{ env.LG_WEBHOOK_TOKEN }}"},
}


async def test_webhooks_to_internal_addresses_are_refused(system: System, c: Any) -> None:
    async with httpx.AsyncClient(base_url=system.url) as http:
        for url, detail in [
            ("http://127.0.0.1:9/h", "Webhook host blocked: loopback IP range"),
            ("http://localhost:9/h", "Webhook host blocked: loopback IP range"),
            ("http://10.1.2.3/h", "Webhook host blocked: private IP range"),
            ("http://192.168.1.1/h", "Webhook host blocked: private IP range"),
            ("http://169.254.169.254/latest/meta-data", "Webhook host blocked: blocked IP range"),
            ("http://[::ffff:127.0.0.1]/h", "Webhook host blocked: loopback IP range"),
            ("ftp://example.com/h", "Webhook host blocked: scheme 'ftp' not allowed"),
            ("/internal/route", "Relative webhook URLs are not supported"),
            ("https://nonexistent.invalid/h", "Webhook host blocked: DNS resolution failed"),
        ]:
            r = await http.post("/runs", json={"assistant_id": "slow", "webhook": url})
            assert r.status_code == 422, (url, r.text)
            assert r.json()["detail"].startswith(detail), (url, r.text)
        # A cron's runs are held to the same rule when it is made.
        r = await http.post(
            "/runs/crons",
            json={"assistant_id": "slow", "schedule": "0 0 1 1 *", "webhook": "http://10.0.0.1/"},
        )
        assert r.status_code == 422 and "private IP range" in r.text


def _verify(headers: dict[str, str], body: bytes) -> None:
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    digest = hmac.new(SECRET.encode(), signed, hashlib.sha256).digest()
    assert headers["webhook-signature"] == "v1," + base64.b64encode(digest).decode()


def test_finished_runs_are_posted_signed_and_retried(tmp_path: Path) -> None:
    hooks = Receiver(fail_first=1)
    env = {"RELAYGRAPH_WEBHOOK_SECRET": SECRET, "LG_WEBHOOK_TOKEN": "t0ken"}

    async def scenario(system: System) -> None:
        async with get_client(url=system.url, timeout=30) as c:
            tid = (await c.threads.create())["thread_id"]
            run = await c.runs.create(tid, "slow", input={"seconds": 0.01}, webhook=hooks.url)
            assert run["kwargs"]["webhook"] == hooks.url
            await c.runs.join(tid, run["run_id"])

            async def delivered() -> None:  # the first POST got a 503: sent again
                assert len(hooks.got) == 2

            await assert_eventually(delivered, timeout=10)
            first, second = hooks.bodies()
            assert first["run_id"] == second["run_id"] == run["run_id"]
            body = second
            assert body["status"] == "success" and body["thread_id"] == tid
            assert body["values"] == {"seconds": 0.01, "done": True}
            assert body["run_started_at"] <= body["run_ended_at"] <= body["webhook_sent_at"]
            assert body["kwargs"]["webhook"] == hooks.url and "error" not in body
            headers, raw = hooks.got[1]
            assert headers["authorization"] == "Bearer t0ken"
            assert headers["content-type"] == "application/json"
            _verify(headers, raw)

            # A stateless run: no values (its thread is gone); a cancelled one.
            hooks.got.clear()
            await c.runs.wait(None, "slow", input={"seconds": 0.01}, webhook=hooks.url)
            slow = await c.runs.create(tid, "slow", input={"seconds": 5}, webhook=hooks.url)
            await asyncio.sleep(0.5)
            await c.runs.cancel(tid, slow["run_id"], wait=True)

            async def both() -> None:
                assert len(hooks.got) == 2

            await assert_eventually(both, timeout=10)
            stateless, cancelled = hooks.bodies()
            assert stateless["status"] == "success" and stateless["values"] is None
            assert cancelled["run_id"] == slow["run_id"]
            assert cancelled["status"] == "interrupted"

    try:
        with running_system(
            tmp_path / "sys",
            config=graphs_config(tmp_path / "project", webhooks=WEBHOOKS),
            extra_env=env,
        ) as system:
            asyncio.run(scenario(system))
    finally:
        hooks.close()
