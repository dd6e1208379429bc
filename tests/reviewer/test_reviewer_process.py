"""``relaygraph reviewer`` as a process: settings from the environment, the
inbox up, and a clean exit on SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import signal
import sys

import httpx
import pytest

from relaygraph_dev.servers import ServerProcess, child_env, free_port

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_reviewer_process_serves_and_stops_cleanly_on_a_signal(
    nats_proc: ServerProcess, valkey_proc: ServerProcess, prefix, sig, eventually, tmp_path
):
    port = free_port()
    env = child_env(
        NATS_URL=nats_proc.url,
        NATS_PREFIX=prefix,
        REDIS_URL=valkey_proc.url,
        REDIS_KEY_PREFIX=prefix,
        REVIEWER_DURABLE=f"proc-{prefix}",
        REVIEWER_HOST="127.0.0.3",
        REVIEWER_PORT=str(port),
        RELAYGRAPH_API_KEY="proc-key",
    )
    log_path = tmp_path / "reviewer.log"
    with log_path.open("wb") as log:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            "from relaygraph_reviewer.app import run; run(None)",
            env=env,
            cwd=tmp_path,
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
        )
    try:
        # REVIEWER_HOST and REVIEWER_PORT from the environment.
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.3:{port}", headers={"x-api-key": "proc-key"}
        ) as http:

            async def up():
                assert proc.returncode is None, log_path.read_text()
                try:
                    response = await http.get("/api/interrupts")
                except httpx.TransportError as exc:
                    raise AssertionError(str(exc)) from exc
                assert response.status_code == 200
                assert response.json() == []

            await eventually(up, within=30.0)
            # The inbox reads the gateway's key from the environment, as deployed.
            refused = await http.get("/api/interrupts", headers={"x-api-key": "wrong"})
            assert refused.status_code == 401
        proc.send_signal(sig)
        code = await asyncio.wait_for(proc.wait(), 30.0)
        output = log_path.read_text()
        assert code == 0, output
        assert "Traceback" not in output
        assert f"reviewer inbox on http://127.0.0.3:{port}/" in output
        assert f"reviewer proc-{prefix}: consuming" in output  # REVIEWER_DURABLE
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
