"""langgraph.json's ``webhooks`` and ``http.disable_webhooks`` as relaygraph
reads them (the reference's keys and defaults, private addresses refused too),
and what the executor's sender does with them, against a local receiver."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from relaygraph.errors import InvalidInput
from relaygraph.webhooks import WebhookConfig, check_url, read_webhooks
from relaygraph_executor.webhook_sender import WebhookSender
from tests.webhook_receiver import Receiver

WHERE = Path("langgraph.json")


def test_defaults_with_and_without_a_url_policy() -> None:
    bare = read_webhooks(WHERE, None, None)
    assert (bare.require_https, bare.disable_loopback, bare.disable_private_ips) == (
        False,
        True,
        True,
    )
    assert bare.max_url_length == 4096 and not bare.disabled
    # A url object given: https required unless it says otherwise (as the reference).
    policy = read_webhooks(WHERE, {"url": {"disable_loopback": False}}, None)
    assert policy.require_https and not policy.disable_loopback and policy.max_url_length == 2048
    assert read_webhooks(WHERE, None, {"disable_webhooks": True}).disabled


def test_headers_take_only_prefixed_environment_variables(monkeypatch: Any) -> None:
    monkeypatch.setenv("LG_WEBHOOK_TOKEN", "s3cret")
    cfg = read_webhooks(WHERE, {"headers": {"X-Token": "Bearer ${{ env.LG_WEBHOOK_TOKEN }}"}}, {})
    assert cfg.headers == {"X-Token": "Bearer s3cret"}
    monkeypatch.setenv("HOME_SECRET", "no")
    with pytest.raises(InvalidInput, match="must start with 'LG_WEBHOOK_'"):
        read_webhooks(WHERE, {"headers": {"X": "${{ env.HOME_SECRET }}"}}, {})
    with pytest.raises(InvalidInput, match="allowed_fields"):
        read_webhooks(WHERE, {"allowed_fields": ["run_id", "password"]}, {})
    with pytest.raises(InvalidInput, match="wildcard"):
        read_webhooks(WHERE, {"url": {"allowed_domains": ["a.*.com"]}}, {})


async def test_urls_are_checked_by_the_policy() -> None:
    strict = WebhookConfig(require_https=True, allowed_ports=(443,))
    with pytest.raises(InvalidInput, match="must use https"):
        await check_url("http://93.184.216.34/h", strict)
    with pytest.raises(InvalidInput, match="port 8443 not allowed"):
        await check_url("https://93.184.216.34:8443/h", strict)
    listed = WebhookConfig(allowed_domains=("*.internal.test",))
    with pytest.raises(InvalidInput, match="domain not allowed"):
        await check_url("http://evil.test/h", listed)
    target = await check_url("http://hooks.internal.test/h", listed)  # listed: not resolved
    assert target.addresses == ()
    open_cfg = WebhookConfig(disable_loopback=False, disable_private_ips=False)
    assert (await check_url("http://127.0.0.1:9/h", open_cfg)).addresses == ("127.0.0.1",)
    with pytest.raises(InvalidInput, match="blocked IP range"):
        await check_url("http://169.254.169.254/", open_cfg)  # link-local: always


async def test_the_sender_keeps_allowed_fields_and_sends_nothing_when_disabled() -> None:
    receiver = Receiver()
    payload = {"run_id": "r1", "status": "success", "values": {"x": 1}, "kwargs": {}}
    try:
        allowed = WebhookConfig(
            disable_loopback=False, allowed_fields=frozenset({"run_id", "status"})
        )
        sender = WebhookSender(allowed, None)
        assert await sender.send(receiver.url, payload)
        assert receiver.bodies() == [{"run_id": "r1", "status": "success"}]
        await sender.close()

        off = WebhookSender(WebhookConfig(disable_loopback=False, disabled=True), None)
        off.send_soon(receiver.url, payload)
        await asyncio.sleep(0.2)
        await off.close()
        assert len(receiver.got) == 1
    finally:
        receiver.close()
