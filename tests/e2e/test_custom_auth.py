"""LangGraph custom auth (``auth.path`` in langgraph.json) with two users,
through the official SDK, raw HTTP and NATS, on a system of its own.

``tests/graphs/auth.py`` stamps every thread, run, assistant and cron with its
owner and filters by it; the Store keeps each user to their namespace. The
statuses and texts are those the official server (langgraph-api 0.16.7,
``langgraph dev``) answered to the same calls with the same ``auth.py``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
from langgraph_sdk import get_client
from langgraph_sdk.errors import ConflictError, NotFoundError, PermissionDeniedError

from tests.system import ROOT, System, assert_eventually, running_system

pytestmark = pytest.mark.e2e
CONFIG = ROOT / "tests" / "graphs" / "auth.json"
ALICE = {"Authorization": "Bearer token-alice"}
BOB = {"Authorization": "Bearer token-bob"}


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    data = Path(tmp_path_factory.mktemp("custom-auth"))
    # The graphs' default assistants are invisible under this auth (their
    # metadata has no owner), as in the reference: the gateway answering is
    # the sign of ready; runs wait in JetStream for the executor.
    with running_system(data, config=CONFIG, headers=ALICE, wait_executor=False) as s:
        yield s


@pytest.fixture
async def alice(guarded: System) -> AsyncIterator[Any]:
    async with get_client(url=guarded.url, headers=ALICE, timeout=30) as sdk:
        yield sdk


@pytest.fixture
async def bob(guarded: System) -> AsyncIterator[Any]:
    async with get_client(url=guarded.url, headers=BOB, timeout=30) as sdk:
        yield sdk


@pytest.fixture
async def interrupted(alice: Any) -> tuple[str, str]:
    """Alice's thread, paused at its interrupt: (thread id, run id)."""
    thread = await alice.threads.create(metadata={"x": 1, "owner": "bob"})
    tid = thread["thread_id"]
    run = await alice.runs.create(tid, "agent", input={"some_text": "hers"})
    await alice.runs.join(tid, run["run_id"])
    return tid, run["run_id"]


async def test_who_may_not_authenticate_gets_the_handlers_401(guarded: System) -> None:
    async with httpx.AsyncClient(base_url=guarded.url, timeout=30) as http:
        for path in ("/ok", "/info", "/docs", "/openapi.json", "/metrics"):
            assert (await http.get(path)).status_code == 200, path  # open, as the reference
        for headers in ({}, {"Authorization": "Bearer nope"}):
            for method, path in (("POST", "/threads/search"), ("POST", "/runs/wait")):
                r = await http.request(method, path, json={}, headers=headers)
                assert r.status_code == 401, r.text
                assert r.json() == {"detail": "Invalid or missing token"}


async def test_metadata_is_stamped_and_filters_hide_the_others(
    alice: Any, bob: Any, interrupted: tuple[str, str]
) -> None:
    tid, _ = interrupted
    thread = await alice.threads.get(tid)
    assert thread["metadata"]["owner"] == "alice" and thread["metadata"]["x"] == 1
    mine = (await bob.threads.create())["thread_id"]
    assert (await bob.threads.get(mine))["metadata"] == {"owner": "bob"}
    seen_by_bob = {t["thread_id"] for t in await bob.threads.search(limit=100)}
    assert mine in seen_by_bob and tid not in seen_by_bob
    assert tid not in {t["thread_id"] for t in await bob.threads.search(metadata={"x": 1})}
    assert await bob.threads.count(metadata={"x": 1}) == 0
    assert tid in {t["thread_id"] for t in await alice.threads.search(metadata={"x": 1})}
    # Patching keeps the owner the handler stamps, whatever the client sends.
    await alice.threads.update(tid, metadata={"owner": "bob", "z": 2})
    assert (await alice.threads.get(tid))["metadata"]["owner"] == "alice"


async def test_another_users_thread_and_runs_are_not_found(
    guarded: System, alice: Any, bob: Any, interrupted: tuple[str, str]
) -> None:
    tid, rid = interrupted
    for call in (
        bob.threads.get(tid),
        bob.threads.get_state(tid),
        bob.threads.get_history(tid),
        bob.threads.update(tid, metadata={"a": 1}),
        bob.threads.update_state(tid, {"some_text": "mine"}),
        bob.threads.delete(tid),
        bob.runs.list(tid),
        bob.runs.get(tid, rid),
        bob.runs.cancel(tid, rid),
        bob.runs.delete(tid, rid),
        bob.runs.create(tid, "agent", command={"resume": "bob's"}),
    ):
        with pytest.raises(NotFoundError):
            await call
    with pytest.raises(httpx.HTTPStatusError) as raised:  # the SDK's join and wait
        await bob.runs.join(tid, rid)
    assert raised.value.response.status_code == 404
    with pytest.raises(httpx.HTTPStatusError) as raised:
        await bob.runs.wait(tid, "agent", command={"resume": "bob's"})
    assert raised.value.response.json() == {"detail": "Thread or assistant not found."}
    with pytest.raises(ConflictError):  # the reference's 409, not a 404
        await bob.threads.copy(tid)
    for if_exists in ("raise", "do_nothing"):
        with pytest.raises(ConflictError):
            await bob.threads.create(thread_id=tid, if_exists=if_exists)
    parts = [p async for p in bob.runs.join_stream(tid, rid)]
    assert [(p.event, p.data) for p in parts] == [
        ("error", {"error": "HTTPException", "message": "404: Thread not found"})
    ]
    # Nothing of bob's reached the thread: alice resumes it as if he never tried.
    assert (await alice.threads.get(tid))["status"] == "interrupted"
    assert (await alice.threads.get(tid))["metadata"].get("a") is None
    out = await alice.runs.wait(tid, "agent", command={"resume": "revised"})
    assert out == {"some_text": "revised"}
    assert [r["run_id"] for r in await alice.runs.list(tid)][-1] == rid


async def test_a_run_knows_who_asked_for_it(alice: Any, bob: Any) -> None:
    forged = {"configurable": {"langgraph_auth_user_id": "alice", "user_id": ""}}
    out = await bob.runs.wait(None, "caller", input={}, config=forged)
    assert out["seen"] == {
        "user_id": "bob",
        "auth_user_id": "bob",
        "auth_user": "bob",
        "permissions": ["read", "write"],
    }
    threads = await bob.threads.search(metadata={"owner": "bob"}, limit=100)
    assert threads, "the stateless run's thread is bob's"


async def test_assistants_and_crons_are_their_owners(alice: Any, bob: Any) -> None:
    mine = await alice.assistants.create("agent", name="alice's", metadata={"team": "a"})
    aid = mine["assistant_id"]
    assert mine["metadata"] == {"team": "a", "owner": "alice"}
    assert aid not in {a["assistant_id"] for a in await bob.assistants.search(limit=100)}
    for call in (bob.assistants.get(aid), bob.assistants.update(aid, name="bob's")):
        with pytest.raises(NotFoundError):
            await call
    with pytest.raises(NotFoundError):
        await bob.assistants.delete(aid)
    tid = (await alice.threads.create())["thread_id"]
    cron = await alice.crons.create_for_thread(tid, "agent", schedule="0 0 1 1 *")
    assert await bob.crons.search() == [] and await bob.crons.count() == 0
    with pytest.raises(NotFoundError):
        await bob.crons.delete(cron["cron_id"])
    assert [c["cron_id"] for c in await alice.crons.search(thread_id=tid)] == [cron["cron_id"]]
    await alice.crons.delete(cron["cron_id"])


async def test_the_store_keeps_each_user_to_their_namespace(alice: Any, bob: Any) -> None:
    await alice.store.put_item(("alice", "notes"), "k", {"v": 1})
    assert (await alice.store.get_item(("alice", "notes"), "k"))["value"] == {"v": 1}
    for call in (
        bob.store.get_item(("alice", "notes"), "k"),
        bob.store.put_item(("alice", "notes"), "k", {"v": 2}),
        bob.store.search_items(("alice",)),
        bob.store.delete_item(("alice", "notes"), "k"),
    ):
        with pytest.raises(PermissionDeniedError):
            await call
    await bob.store.put_item(("bob", "notes"), "k", {"v": 3})
    listed = await bob.store.list_namespaces(prefix=["bob"])
    assert listed["namespaces"] == [["bob", "notes"]]
    assert (await alice.store.get_item(("alice", "notes"), "k"))["value"] == {"v": 1}


async def test_a_nats_resume_is_authorised_like_an_http_one(
    guarded: System, alice: Any, interrupted: tuple[str, str]
) -> None:
    tid, _ = interrupted
    nc = await nats.connect(guarded.nats.url)
    try:

        async def resume(headers: dict[str, str] | None) -> dict[str, Any]:
            body = json.dumps({"resume": "over nats", "reviewer": "r"}).encode()
            msg = await nc.request(f"relaygraph.resume.{tid}", body, timeout=10, headers=headers)
            return json.loads(msg.data)  # type: ignore[no-any-return]

        for headers in (None, BOB, {"Authorization": "Bearer nope"}):
            refused = await resume(headers)
            assert refused["error"]["code"] == "forbidden", refused
        assert (await alice.threads.get(tid))["status"] == "interrupted"
        accepted = await resume(ALICE)
        assert accepted["thread_id"] == tid, accepted
        await alice.runs.join(tid, accepted["run_id"])
        assert (await alice.threads.get_state(tid))["values"] == {"some_text": "over nats"}
    finally:
        await nc.drain()


def _reviewer(guarded: System, **env: str) -> Iterator[str]:
    with guarded.reviewer("auth", **env) as reviewer:
        yield reviewer.url


@pytest.fixture
def rules_reviewer(guarded: System, tmp_path: Path) -> Iterator[str]:
    """A reviewer whose rule answers ``agent`` interrupts on "auto", as alice."""
    rules = tmp_path / "rules.json"
    rules.write_text(
        json.dumps([{"graph_id": "agent", "match": {"text_to_revise": "auto"}, "resume": "ok"}])
    )
    yield from _reviewer(
        guarded,
        REVIEWER_RULES=str(rules),
        REVIEWER_RESUME_AUTHORIZATION=ALICE["Authorization"],
    )


@pytest.fixture
def inbox(guarded: System) -> Iterator[str]:
    yield from _reviewer(guarded)


async def test_the_inbox_shows_each_person_their_own_and_answers_as_them(
    alice: Any, bob: Any, inbox: str
) -> None:
    hers = (await alice.threads.create())["thread_id"]
    his = (await bob.threads.create())["thread_id"]
    await alice.runs.wait(hers, "agent", input={"some_text": "for alice"})
    await bob.runs.wait(his, "agent", input={"some_text": "for bob"})
    async with httpx.AsyncClient(base_url=inbox, timeout=10) as http:

        async def both_arrived() -> None:
            listed = (await http.get("/api/interrupts", headers=ALICE)).json()
            assert hers in {i["thread_id"] for i in listed}, listed
            assert his not in {i["thread_id"] for i in listed}, listed
            mine = (await http.get("/api/interrupts", headers=BOB)).json()
            assert {i["thread_id"] for i in mine} == {his}, mine

        await assert_eventually(both_arrived, 20)
        refused = await http.get("/api/interrupts")
        assert refused.status_code == 401
        assert refused.json() == {"detail": "Invalid or missing token"}
        assert (await http.get(f"/api/interrupts/{hers}", headers=BOB)).status_code == 404
        stolen = await http.post(
            f"/api/interrupts/{hers}/resume", json={"resume": "bob's"}, headers=BOB
        )
        assert stolen.status_code == 404
        answered = await http.post(
            f"/api/interrupts/{hers}/resume",
            json={"resume": "from the inbox", "reviewer": "someone else"},
            headers=ALICE,
        )
        assert answered.status_code == 200, answered.text
        assert answered.json()["reviewer"] == "Alice"  # from authentication, not the form
        # A person signs in with their token; the page shows theirs, named.
        page = await http.post("/login", data={"api_key": "token-bob"})
        assert page.status_code == 303
        html = (await http.get("/")).text
        assert his in html and hers not in html and "answering as <b>Bob</b>" in html
        wrong = await http.post("/login", data={"api_key": "nope"})
        assert wrong.status_code == 401 and "Invalid or missing token" in wrong.text
    await alice.runs.join(hers, answered.json()["run_id"])
    assert (await alice.threads.get_state(hers))["values"] == {"some_text": "from the inbox"}


async def test_the_reviewers_rules_resume_as_the_reviewers_user(
    alice: Any, bob: Any, rules_reviewer: str
) -> None:
    hers = (await alice.threads.create())["thread_id"]
    his = (await bob.threads.create())["thread_id"]
    await alice.runs.wait(hers, "agent", input={"some_text": "auto"})
    await bob.runs.wait(his, "agent", input={"some_text": "auto"})

    async def hers_resumed() -> None:
        assert (await alice.threads.get_state(hers))["values"] == {"some_text": "ok"}

    await assert_eventually(hers_resumed, 20)

    async def his_refused() -> None:
        async with httpx.AsyncClient(base_url=rules_reviewer, timeout=5) as inbox:
            item = (await inbox.get(f"/api/interrupts/{his}", headers=BOB)).json()
        assert (item.get("last_error") or {}).get("code") == "forbidden", item

    # Alice's credentials do not reach bob's thread: it waits for bob.
    await assert_eventually(his_refused, 20)
    assert (await bob.threads.get(his))["status"] == "interrupted"


async def test_unknown_ids_stay_unknown(bob: Any) -> None:
    with pytest.raises(NotFoundError):
        await bob.threads.get(str(uuid.uuid4()))
