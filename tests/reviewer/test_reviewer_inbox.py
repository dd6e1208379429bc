"""The reviewer against real NATS JetStream and Valkey: a late subscriber gets
every interrupt once, answers travel as the public resume request, and the
inbox keeps the outcome."""

from __future__ import annotations

import asyncio

import pytest
from nats.aio.client import Client
from nats.js.api import RetentionPolicy, StorageType

from relaygraph.contracts import ErrorBody, ResumeRequest
from relaygraph.streams import ensure_stream, interrupts_stream_config
from relaygraph.subjects import Subjects
from tests.reviewer.conftest import STREAM_BYTES

pytestmark = pytest.mark.integration


async def test_late_reviewer_gets_an_interrupt_published_before_it_started_once(
    start_reviewer, publish, event_factory, eventually
):
    event = event_factory(values=[{"question": "Send the email?", "draft": "Hi!"}])
    msg_id = await publish(event)
    assert await publish(event) == msg_id  # published twice, same Nats-Msg-Id

    async with start_reviewer() as reviewer:

        async def recorded():
            items = await reviewer.pending()
            assert [i["thread_id"] for i in items] == [event.thread_id]
            return items[0]

        item = await eventually(recorded)
        assert item["msg_id"] == msg_id
        assert item["graph_id"] == "agent"
        assert item["run_id"] == event.run_id
        assert item["created_at"] == event.created_at
        assert item["interrupts"] == [
            {"id": event.interrupts[0].id, "value": {"question": "Send the email?", "draft": "Hi!"}}
        ]
        assert item["resume_subject"] == reviewer.subjects.resume(event.thread_id)
        assert item["last_error"] is None
        single = await reviewer.http.get(f"/api/interrupts/{event.thread_id}")
        assert single.json()["msg_id"] == msg_id
        missing = await reviewer.http.get("/api/interrupts/no-such-thread")
        assert missing.status_code == 404
        assert "no pending interrupt" in missing.json()["detail"]


async def test_reviewer_started_first_creates_the_interrupts_stream(
    start_reviewer, nc: Client, subjects: Subjects, publish, event_factory, eventually
):
    js = nc.jetstream()
    async with start_reviewer() as reviewer:
        info = await js.stream_info(subjects.interrupts_stream)
        config = info.config
        assert config.subjects == [subjects.interrupts_all]
        assert config.retention == RetentionPolicy.LIMITS
        assert config.storage == StorageType.FILE
        assert config.max_age == pytest.approx(7 * 24 * 3600)
        assert config.duplicate_window == pytest.approx(120)
        # an executor declaring the same config later is a no-op
        again = await ensure_stream(js, interrupts_stream_config(subjects, max_bytes=STREAM_BYTES))
        assert again.config.subjects == [subjects.interrupts_all]
        consumer = await js.consumer_info(subjects.interrupts_stream, reviewer.settings.durable)
        assert consumer.config.durable_name == reviewer.settings.durable

        event = event_factory()
        await publish(event)

        async def arrived():
            assert [i["thread_id"] for i in await reviewer.pending()] == [event.thread_id]

        await eventually(arrived)


async def test_answer_over_http_sends_the_resume_request_and_moves_the_item_to_recent(
    start_reviewer, publish, event_factory, gateway, eventually
):
    event = event_factory()
    msg_id = await publish(event)
    async with start_reviewer() as reviewer:

        async def recorded():
            assert len(await reviewer.pending()) == 1

        await eventually(recorded)
        response = await reviewer.http.post(
            f"/api/interrupts/{event.thread_id}/resume",
            json={"resume": {"approved": True}, "reviewer": "ada"},
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["run_id"] == gateway.run_ids[0]
        assert body["thread_id"] == event.thread_id
        assert body["status"] == "pending"
        subject, request = gateway.requests[0]
        assert subject == reviewer.subjects.resume(event.thread_id)
        assert request == ResumeRequest(
            resume={"approved": True}, reviewer="ada", interrupt_id=event.interrupts[0].id
        )

        assert await reviewer.pending() == []
        answered = await reviewer.answered()
        assert len(answered) == 1
        assert answered[0]["msg_id"] == msg_id
        assert answered[0]["reviewer"] == "ada"
        assert answered[0]["run_id"] == gateway.run_ids[0]
        assert answered[0]["resume"] == {"approved": True}

        again = await reviewer.http.post(
            f"/api/interrupts/{event.thread_id}/resume", json={"resume": True}
        )
        assert again.status_code == 404
        assert len(gateway.requests) == 1


async def test_error_reply_is_reported_and_the_item_stays_pending(
    start_reviewer, publish, event_factory, gateway, eventually
):
    event = event_factory()
    await publish(event)
    gateway.error = ErrorBody(code="conflict", message="thread is busy with another run")
    async with start_reviewer() as reviewer:

        async def recorded():
            assert len(await reviewer.pending()) == 1

        await eventually(recorded)
        response = await reviewer.http.post(
            f"/api/interrupts/{event.thread_id}/resume", json={"resume": "ok", "reviewer": "bob"}
        )
        assert response.status_code == 409
        assert response.json()["detail"] == "thread is busy with another run"
        assert response.json()["error"] == {
            "code": "conflict",
            "message": "thread is busy with another run",
        }
        [item] = await reviewer.pending()
        assert item["last_error"] == {
            "code": "conflict",
            "message": "thread is busy with another run",
        }
        assert await reviewer.answered() == []
        page = await reviewer.http.get("/")
        assert "thread is busy with another run" in page.text


async def test_no_gateway_is_a_clear_503(start_reviewer, publish, event_factory, eventually):
    event = event_factory()
    await publish(event)
    async with start_reviewer() as reviewer:

        async def recorded():
            assert len(await reviewer.pending()) == 1

        await eventually(recorded)
        response = await reviewer.http.post(
            f"/api/interrupts/{event.thread_id}/resume", json={"resume": True}
        )
        assert response.status_code == 503
        assert "no gateway answers" in response.json()["detail"]
        assert len(await reviewer.pending()) == 1


async def test_several_interrupts_are_answered_with_a_map(
    start_reviewer, publish, event_factory, gateway, eventually
):
    first = event_factory(values=["approve step 1?", "approve step 2?"])
    second = event_factory(values=[{"a": 1}, {"b": 2}])
    await publish(first)
    await publish(second)
    ids = [i.id for i in first.interrupts]
    async with start_reviewer() as reviewer:

        async def recorded():
            assert len(await reviewer.pending()) == 2

        await eventually(recorded)
        # one value answers every pending interrupt
        response = await reviewer.http.post(
            f"/api/interrupts/{first.thread_id}/resume", json={"resume": "yes"}
        )
        assert response.status_code == 200, response.text
        assert gateway.requests[0][1].resume == {ids[0]: "yes", ids[1]: "yes"}
        # a map over the interrupt ids goes as is
        answer = {second.interrupts[0].id: 1, second.interrupts[1].id: 2}
        response = await reviewer.http.post(
            f"/api/interrupts/{second.thread_id}/resume", json={"resume": answer}
        )
        assert response.status_code == 200, response.text
        assert gateway.requests[1][1].resume == answer


async def test_redelivery_neither_duplicates_nor_brings_back_an_answered_interrupt(
    start_reviewer, nc: Client, subjects: Subjects, publish, event_factory, gateway, eventually
):
    answered_event = event_factory()
    waiting_event = event_factory()
    await publish(answered_event)
    await publish(waiting_event)
    async with start_reviewer() as reviewer:

        async def recorded():
            assert len(await reviewer.pending()) == 2

        await eventually(recorded)
        response = await reviewer.http.post(
            f"/api/interrupts/{answered_event.thread_id}/resume", json={"resume": True}
        )
        assert response.status_code == 200
        durable = reviewer.settings.durable

    # every ack lost: the durable consumer is gone, the stream delivers all again
    js = nc.jetstream()
    await js.delete_consumer(subjects.interrupts_stream, durable)
    async with start_reviewer() as reviewer:

        async def redelivered():
            consumer = await js.consumer_info(subjects.interrupts_stream, durable)
            assert consumer.num_ack_pending == 0
            assert consumer.delivered.stream_seq >= 2

        await eventually(redelivered)
        pending = await reviewer.pending()
        assert [i["thread_id"] for i in pending] == [waiting_event.thread_id]
        assert len(await reviewer.answered()) == 1


async def test_a_newer_interrupt_of_a_thread_replaces_the_older_one(
    start_reviewer, publish, event_factory, eventually
):
    older = event_factory(values=["first?"], created_at="2026-01-01T00:00:00+00:00")
    newer = event_factory(
        thread_id=older.thread_id, values=["second?"], created_at="2026-01-01T00:05:00+00:00"
    )
    await publish(newer)
    await publish(older)  # arrives late: must not replace the newer one
    async with start_reviewer() as reviewer:

        async def recorded():
            items = await reviewer.pending()
            assert [i["interrupts"][0]["value"] for i in items] == ["second?"]

        await eventually(recorded)
        stale = await reviewer.http.post(
            f"/api/interrupts/{older.thread_id}/resume",
            json={"resume": True, "msg_id": f"{older.thread_id}:{older.checkpoint_id}"},
        )
        assert stale.status_code == 409


async def test_inbox_page_escapes_graph_data(start_reviewer, publish, event_factory, eventually):
    evil = "<script>alert('x')</script>"
    event = event_factory(graph_id="agent", values=[{"question": evil, "note": '"><img src=x>'}])
    await publish(event)
    async with start_reviewer() as reviewer:

        async def recorded():
            assert len(await reviewer.pending()) == 1

        await eventually(recorded)
        page = await reviewer.http.get("/")
        assert page.status_code == 200
        assert evil not in page.text
        assert "<img src=x>" not in page.text
        assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page.text
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert event.thread_id in page.text


async def test_form_post_answers_and_redirects_to_the_outcome(
    start_reviewer, publish, event_factory, gateway, eventually
):
    event = event_factory(values=[{"question": "Ship it?", "options": ["ship", "wait"]}])
    msg_id = await publish(event)
    iid = event.interrupts[0].id
    async with start_reviewer() as reviewer:

        async def recorded():
            assert len(await reviewer.pending()) == 1

        await eventually(recorded)
        origin = {"origin": reviewer.url}
        bad = await reviewer.http.post(
            f"/inbox/{event.thread_id}/resume",
            data={"msg_id": msg_id, f"resume:{iid}": "{not json", "reviewer": "cy"},
            headers=origin,
        )
        assert bad.status_code == 422
        assert "not valid JSON" in bad.text
        assert gateway.requests == []
        forged = await reviewer.http.post(
            f"/inbox/{event.thread_id}/resume",
            data={"msg_id": msg_id, f"quick:{iid}": '"ship"'},
            headers={"origin": "http://evil.example"},
        )
        assert forged.status_code == 403
        response = await reviewer.http.post(
            f"/inbox/{event.thread_id}/resume",
            data={
                "msg_id": msg_id,
                f"resume:{iid}": "",
                f"quick:{iid}": '"ship"',
                "reviewer": "cy",
            },
            headers=origin,
        )
        assert response.status_code == 303
        assert gateway.requests[0][1] == ResumeRequest(
            resume="ship", reviewer="cy", interrupt_id=iid
        )
        page = await reviewer.http.get(response.headers["location"].replace("../../", "/"))
        assert gateway.run_ids[0] in page.text
        assert "Resumed thread" in page.text


async def test_api_key_guards_the_inbox(start_reviewer, eventually):
    async with start_reviewer(api_key="s3cret") as reviewer:
        anonymous = reviewer.http.headers.pop("x-api-key")
        assert anonymous == "s3cret"
        assert (await reviewer.http.get("/api/interrupts")).status_code == 401
        assert (await reviewer.http.get("/ok")).status_code == 200
        page = await reviewer.http.get("/")
        assert page.status_code == 303
        assert page.headers["location"] == "./login"
        wrong = await reviewer.http.post(
            "/login", data={"api_key": "nope"}, headers={"origin": reviewer.url}
        )
        assert wrong.status_code == 401
        login = await reviewer.http.post(
            "/login", data={"api_key": "s3cret"}, headers={"origin": reviewer.url}
        )
        assert login.status_code == 303
        assert (await reviewer.http.get("/")).status_code == 200  # the session cookie
        bearer = await reviewer.http.get(
            "/api/interrupts", headers={"authorization": "Bearer s3cret"}
        )
        assert bearer.status_code == 200


async def test_each_persons_own_key_names_their_answers(
    start_reviewer, publish, event_factory, gateway, eventually
):
    """REVIEWER_API_KEYS: a person's own key is their identity in the inbox;
    the name field of the form or the API is not asked for, nor believed."""
    event = event_factory()
    await publish(event)
    async with start_reviewer(api_keys="grace:k-grace, alan:k-alan") as reviewer:
        http = reviewer.http

        async def pending():
            r = await http.get("/api/interrupts", headers={"x-api-key": "k-alan"})
            assert r.status_code == 200 and len(r.json()) == 1, r.text

        await eventually(pending)
        assert (await http.get("/api/interrupts", headers={"x-api-key": "nope"})).status_code == 401
        login = await http.post(
            "/login", data={"api_key": "k-grace"}, headers={"origin": reviewer.url}
        )
        assert login.status_code == 303
        page = (await http.get("/")).text
        assert "answering as <b>grace</b>" in page and 'name="reviewer"' not in page
        http.cookies.clear()
        r = await http.post(
            f"/api/interrupts/{event.thread_id}/resume",
            json={"resume": "ok", "reviewer": "mallory"},
            headers={"x-api-key": "k-alan"},
        )
        assert r.status_code == 200 and r.json()["reviewer"] == "alan", r.text
        audit = (await http.get("/api/audit", headers={"x-api-key": "k-alan"})).json()
        assert [e["reviewer"] for e in audit["entries"]] == ["alan"]
    assert [req.reviewer for _, req in gateway.requests] == ["alan"]


async def test_redis_connections_stay_within_redis_max_connections(
    start_reviewer, publish, event_factory, eventually, valkey_proc
):
    """REDIS_MAX_CONNECTIONS holds for the reviewer too (its connections carry
    its name in CLIENT LIST)."""
    from redis.asyncio import Redis

    events = [event_factory(values=[{"n": n}]) for n in range(40)]
    async with start_reviewer(redis_max_connections=2) as reviewer:
        await asyncio.gather(*(publish(e) for e in events))

        async def all_recorded():
            assert len(await reviewer.pending()) >= 40

        await eventually(all_recorded)
        await asyncio.gather(*(reviewer.pending() for _ in range(20)))
        async with Redis.from_url(valkey_proc.url) as admin:
            names = [c["name"] for c in await admin.client_list()]
        mine = [n for n in names if n.startswith("relaygraph-reviewer-")]
        assert 1 <= len(mine) <= 2, names
