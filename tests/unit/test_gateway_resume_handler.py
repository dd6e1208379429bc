"""The gateway's NATS resume handler on FastStream's TestNatsBroker: what a
reviewer's ``relaygraph.resume.<thread_id>`` request becomes (the run
create_run makes) and what every failure is answered with. The gateway's
part is played by the test; the same requests against real NATS, Redis and
executors are in tests/e2e (test_nats_contracts.py, test_resume_once.py,
test_custom_auth.py)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from faststream.nats import NatsBroker, TestNatsBroker
from langgraph_sdk import Auth

from relaygraph.auth import AuthFailed
from relaygraph.contracts import ErrorBody, ErrorReply, ResumeReply, ResumeRequest, decode, encode
from relaygraph.errors import Conflict, InvalidInput, RelaygraphError
from relaygraph.resumes import ResumeMode
from relaygraph.subjects import Subjects
from relaygraph_gateway.authz import RUN_HIDDEN, Hidden
from relaygraph_gateway.resume_handler import ResumeHandler, resume_error

THREAD = "t1"
ASSISTANT = "fe096781-5601-53d2-b2f6-0d3403f7e9ca"


@dataclass
class Threads:
    """The threads' records: each thread's assistant, if it has run one."""

    assistants: dict[str, str] = field(default_factory=dict)

    async def get(self, thread_id: str) -> dict[str, bytes]:
        aid = self.assistants.get(thread_id)
        return {"thread_id": thread_id.encode()} | ({"assistant_id": aid.encode()} if aid else {})


@dataclass
class FakeGateway:
    """What the handler uses of the gateway: its subjects, the threads and
    create_run (recorded, or failing with ``error``)."""

    subjects: Subjects = field(default_factory=Subjects)
    threads: Threads = field(default_factory=Threads)
    error: Exception | None = None
    created: list[dict[str, Any]] = field(default_factory=list)

    async def create_run(
        self, thread_id: str, body: Any, *, resume: Any, access: Any
    ) -> tuple[dict[str, Any], Any, None]:
        if self.error is not None:
            raise self.error
        self.created.append(
            {"thread_id": thread_id, "body": body, "resume": resume, "access": access}
        )
        return {"run_id": f"run-{len(self.created)}", "status": "pending"}, None, None


def reviewers_only() -> Auth:
    """Custom auth that lets in the bearer of ``Bearer good`` only."""
    auth = Auth()

    @auth.authenticate
    async def authenticate(authorization: str | None) -> Auth.types.MinimalUserDict:
        if authorization != "Bearer good":
            raise Auth.exceptions.HTTPException(status_code=401, detail="who are you?")
        return {"identity": "reviewer-1"}

    return auth


async def serve(gateway: FakeGateway, auth: Auth | None = None) -> AsyncIterator[NatsBroker]:
    broker = NatsBroker()
    broker.include_router(ResumeHandler(gateway, auth).router())  # type: ignore[arg-type]
    async with TestNatsBroker(broker) as test_broker:
        yield test_broker


@pytest.fixture
def gateway() -> FakeGateway:
    return FakeGateway(threads=Threads({THREAD: ASSISTANT}))


@pytest.fixture
async def broker(gateway: FakeGateway) -> AsyncIterator[NatsBroker]:
    async for b in serve(gateway):
        yield b


async def resume(broker: NatsBroker, body: bytes, **headers: str) -> ResumeReply | ErrorReply:
    reply = await broker.request(body, Subjects().resume(THREAD), headers=headers or None)
    raw: bytes = reply.body
    return decode(raw, ResumeReply) if b'"run_id"' in raw else decode(raw, ErrorReply)


async def test_a_resume_is_the_run_create_run_makes(
    broker: NatsBroker, gateway: FakeGateway
) -> None:
    body = encode(ResumeRequest(resume={"approved": True}, reviewer="ana"))
    reply = await resume(broker, body)
    assert reply == ResumeReply(run_id="run-1", thread_id=THREAD, status="pending")
    [made] = gateway.created
    assert made["thread_id"] == THREAD
    assert made["body"].assistant_id == ASSISTANT
    assert made["body"].command.resume == {"approved": True}
    assert made["body"].metadata == {"reviewer": "ana"}
    assert made["resume"].mode is ResumeMode.FIRST_PAUSE
    assert not made["access"].auth_configured  # no custom auth: nothing to check


async def test_without_a_reviewer_the_run_has_no_metadata(
    broker: NatsBroker, gateway: FakeGateway
) -> None:
    await resume(broker, encode(ResumeRequest(resume="yes")))
    assert gateway.created[0]["body"].metadata == {}


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'{"reviewer": 3}'])
async def test_a_body_that_is_not_a_resume_request_is_invalid_input(
    broker: NatsBroker, gateway: FakeGateway, body: bytes
) -> None:
    reply = await resume(broker, body)
    assert isinstance(reply, ErrorReply)
    assert reply.error.code == "invalid_input"
    assert reply.error.message.startswith("bad resume request: ")
    assert gateway.created == []


async def test_a_thread_that_never_ran_a_graph_is_not_found(gateway: FakeGateway) -> None:
    gateway.threads = Threads()
    async for broker in serve(gateway):
        reply = await resume(broker, encode(ResumeRequest(resume=1)))
    assert isinstance(reply, ErrorReply)
    assert reply.error.code == "not_found"
    assert THREAD in reply.error.message


async def test_a_pause_named_twice_is_invalid_input(broker: NatsBroker) -> None:
    body = encode(ResumeRequest(resume=1, interrupt_id="a" * 32, checkpoint_id="c"))
    reply = await resume(broker, body)
    assert isinstance(reply, ErrorReply) and reply.error.code == "invalid_input"


async def test_custom_auth_authenticates_the_requests_headers(gateway: FakeGateway) -> None:
    """The Authorization header is authenticated as an HTTP request's would
    be; a refusal (a 401 in HTTP) is ``forbidden``, and no run is made."""
    body = encode(ResumeRequest(resume=1))
    async for broker in serve(gateway, reviewers_only()):
        refused = await resume(broker, body)
        unsigned = await resume(broker, body, Authorization="Bearer bad")
        taken = await resume(broker, body, Authorization="Bearer good")
    for reply in (refused, unsigned):
        assert isinstance(reply, ErrorReply)
        assert reply.error == ErrorBody(code="forbidden", message="who are you?")
    assert isinstance(taken, ResumeReply)
    [made] = gateway.created
    assert made["access"].caller.user.identity == "reviewer-1"


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (AuthFailed(403, "not yours"), "forbidden"),
        (AuthFailed(401, "who are you?"), "forbidden"),  # "unauthorized" over HTTP
        (Hidden(RUN_HIDDEN), "forbidden"),  # a 404 over HTTP
        (Conflict("Thread is busy"), "conflict"),
        (InvalidInput("no pause to resume"), "invalid_input"),
    ],
)
async def test_what_create_run_refuses_keeps_its_code(
    gateway: FakeGateway, error: RelaygraphError, code: str
) -> None:
    gateway.error = error
    async for broker in serve(gateway):
        reply = await resume(broker, encode(ResumeRequest(resume=1)))
    assert isinstance(reply, ErrorReply)
    assert (reply.error.code, reply.error.message) == (code, error.message)


async def test_a_bug_is_internal_and_logged(
    gateway: FakeGateway, caplog: pytest.LogCaptureFixture
) -> None:
    gateway.error = KeyError("assistant_id")
    caplog.set_level(logging.ERROR, logger="relaygraph.gateway")
    async for broker in serve(gateway):
        reply = await resume(broker, encode(ResumeRequest(resume=1)))
    assert isinstance(reply, ErrorReply)
    assert reply.error.code == "internal"
    assert reply.error.message == "KeyError: 'assistant_id'"
    [logged] = [r for r in caplog.records if r.name == "relaygraph.gateway"]
    assert logged.getMessage() == f"resume of thread {THREAD} failed"
    assert logged.exc_info is not None


def test_resume_error_is_a_pure_mapping() -> None:
    assert resume_error(Conflict("busy"), THREAD).code == "conflict"
    assert resume_error(Hidden(RUN_HIDDEN), THREAD).code == "forbidden"
    assert resume_error(RuntimeError("x"), THREAD).code == "internal"
