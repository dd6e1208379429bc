"""Credentials and TLS for NATS and Redis, against real servers configured
for them: the services log in and a run goes through; without the
credentials, or against a server that does not speak TLS, they refuse
clearly, and credentials never cross the wire in the clear."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from relaygraph_dev.servers import ServerProcess, die_with_parent, free_port
from tests.credentials import certificates, decentralized_auth
from tests.system import ROOT, System, running_system

pytestmark = pytest.mark.integration


def a_run_goes_through(system: System) -> None:
    tid = httpx.post(f"{system.url}/threads", json={}).json()["thread_id"]
    out = httpx.post(
        f"{system.url}/threads/{tid}/runs/wait",
        json={"assistant_id": "agent", "input": {"some_text": "secret"}},
        timeout=30,
    ).json()
    assert out["__interrupt__"][0]["value"] == {"text_to_revise": "secret"}


def gateway_refuses(env: dict[str, str], tmp_path: Path, says: str, timeout: float = 20) -> str:
    """Start a gateway that must not come up: it exits, or keeps retrying, and
    either way its log ``says`` why. Its log."""
    log = tmp_path / "refused.log"
    url = f"http://127.0.0.1:{free_port()}"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "relaygraph.cli",
                "gateway",
                "--config",
                str(ROOT / "examples" / "langgraph.json"),
                "--port",
                url.rsplit(":", 1)[1],
            ],
            env={**os.environ, "RELAYGRAPH_LOG_LEVEL": "INFO", **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,
        )
    try:
        deadline = time.monotonic() + timeout
        while says not in log.read_text() and proc.poll() is None:
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"{url}/ok", timeout=1)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    said = log.read_text()
    assert says in said, said
    return said


# -- NATS -----------------------------------------------------------------------


def test_nats_creds_file(tmp_path: Path) -> None:
    auth = decentralized_auth(tmp_path / "auth")
    with running_system(
        tmp_path / "system",
        nats_config=auth.server_config,
        extra_env={"NATS_CREDS": str(auth.creds)},
    ) as system:
        a_run_goes_through(system)
        gateway_refuses(
            {"NATS_URL": system.nats.url, "REDIS_URL": system.redis.url},
            tmp_path,
            says="Authorization Violation",
        )


@pytest.mark.parametrize(
    ("server", "good", "bad"),
    [
        (
            ["authorization {", "  user: svc", "  password: s3cret-pw", "}"],
            {"NATS_USER": "svc", "NATS_PASSWORD": "s3cret-pw"},
            {"NATS_USER": "svc", "NATS_PASSWORD": "wrong"},
        ),
        (
            ["authorization {", "  token: t0ken-value", "}"],
            {"NATS_TOKEN": "t0ken-value"},
            {"NATS_TOKEN": "nope"},
        ),
    ],
    ids=["user-password", "token"],
)
def test_nats_user_password_and_token(
    tmp_path: Path, server: list[str], good: dict[str, str], bad: dict[str, str]
) -> None:
    with running_system(tmp_path / "system", nats_config=server, extra_env=good) as system:
        a_run_goes_through(system)
        gateway_refuses(
            {"NATS_URL": system.nats.url, "REDIS_URL": system.redis.url, **bad},
            tmp_path,
            says="Authorization Violation",
        )


def test_nats_mutual_tls(tmp_path: Path) -> None:
    certs = certificates(tmp_path / "certs")
    server = [
        "tls {",
        f'  cert_file: "{certs.server_cert}"',
        f'  key_file: "{certs.server_key}"',
        f'  ca_file: "{certs.ca}"',
        "  verify: true",
        "  handshake_first: true",
        "}",
    ]
    tls = {
        "NATS_TLS_CA": str(certs.ca),
        "NATS_TLS_CERT": str(certs.client_cert),
        "NATS_TLS_KEY": str(certs.client_key),
    }
    with running_system(tmp_path / "system", nats_config=server, extra_env=tls) as system:
        a_run_goes_through(system)
        base = {"NATS_URL": system.nats.url, "REDIS_URL": system.redis.url}
        # No client certificate: the server refuses the handshake, and the log says so.
        said = gateway_refuses(
            {**base, "NATS_TLS_CA": str(certs.ca)}, tmp_path, says="cannot connect to NATS"
        )
        assert "SSL" in said
        # A key without its certificate is a mistake, said as such.
        gateway_refuses(
            {**base, "NATS_TLS_KEY": str(certs.client_key)},
            tmp_path,
            says="NATS_TLS_KEY is set without NATS_TLS_CERT",
        )


def test_with_tls_settings_a_plaintext_server_never_gets_the_credentials(tmp_path: Path) -> None:
    """A server that does not speak TLS (or one impersonating NATS) is sent a
    TLS handshake, never a CONNECT with the password."""
    certs = certificates(tmp_path / "certs")
    received = bytearray()
    port = free_port()

    async def impostor() -> None:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(
                b'INFO {"server_id":"x","version":"2.10.0","max_payload":1048576,'
                b'"auth_required":true}\r\n'
            )
            await writer.drain()
            while data := await reader.read(4096):
                received.extend(data)
            writer.close()

        server = await asyncio.start_server(serve, "127.0.0.1", port)
        async with server:
            await asyncio.sleep(8)

    async def both() -> str:
        task = asyncio.create_task(impostor())
        await asyncio.sleep(0.2)
        said = await asyncio.to_thread(
            gateway_refuses,
            {
                "NATS_URL": f"nats://127.0.0.1:{port}",
                "REDIS_URL": "redis://127.0.0.1:1/0",
                "NATS_USER": "svc",
                "NATS_PASSWORD": "never-in-the-clear",
                "NATS_TLS_CA": str(certs.ca),
            },
            tmp_path,
            "cannot connect to NATS",
        )
        task.cancel()
        return said

    said = asyncio.run(both())
    assert received, said  # the client did talk to it ...
    assert received[:1] == b"\x16"  # ... a TLS handshake record, first
    assert b"CONNECT" not in received and b"never-in-the-clear" not in received


# -- Redis ----------------------------------------------------------------------


def test_redis_acl_user(tmp_path: Path) -> None:
    with running_system(tmp_path / "system") as system:
        admin = redis.Redis.from_url(system.redis.url)
        admin.execute_command("ACL", "SETUSER", "svc", "on", ">acl-pw", "~*", "&*", "+@all")
        admin.execute_command("ACL", "SETUSER", "default", "off")
        port = system.redis.port
        for svc in list(system.services):
            svc.stop()
            system.services.remove(svc)
        system.env["REDIS_URL"] = f"redis://svc:acl-pw@127.0.0.1:{port}/0"
        system.executor()
        system.gateway()
        system.wait_ready()
        a_run_goes_through(system)
        gateway_refuses(
            {"NATS_URL": system.nats.url, "REDIS_URL": f"redis://svc:wrong@127.0.0.1:{port}/0"},
            tmp_path,
            says="Redis refused the credentials in REDIS_URL",
        )


@pytest.fixture
def redis_tls(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """Debian's redis-server (built with TLS) on a TLS-only port."""
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail("redis-server (Debian's, with TLS) is missing; .ci/run installs it")
        pytest.skip("no redis-server with TLS here (apt-get install redis-server)")
    certs = certificates(tmp_path / "redis-certs", name="redis")
    port = free_port()
    server = ServerProcess(
        "redis-tls",
        port,
        tmp_path / "redis-tls",
        [
            binary,
            "--port",
            "0",
            "--tls-port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--tls-cert-file",
            str(certs.server_cert),
            "--tls-key-file",
            str(certs.server_key),
            "--tls-ca-cert-file",
            str(certs.ca),
            "--tls-auth-clients",
            "no",
            "--dir",
            str(tmp_path / "redis-tls"),
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        tmp_path / "redis-tls.log",
    ).start()
    try:
        yield f"rediss://127.0.0.1:{port}/0?ssl_ca_certs={certs.ca}", certs.ca
    finally:
        server.stop()


def test_redis_over_tls(tmp_path: Path, redis_tls: tuple[str, Path]) -> None:
    url, _ = redis_tls
    with running_system(tmp_path / "system") as system:
        for svc in list(system.services):
            svc.stop()
            system.services.remove(svc)
        system.env["REDIS_URL"] = url
        system.executor()
        system.gateway()
        system.wait_ready()
        a_run_goes_through(system)
        # Without the CA, the server's certificate is not trusted.
        client = redis.Redis.from_url(url.split("?")[0], socket_connect_timeout=2)
        with pytest.raises(redis.exceptions.ConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
            client.ping()
