"""AsyncRedisSaver beyond the conformance suite: fencing, TTL, constant round
trips, blob sharing, maintenance operations and the sync bridges."""

from __future__ import annotations

import asyncio
from collections import Counter
from uuid import uuid4

import pytest
import redis.asyncio
from redis.crc import key_slot

from relaygraph.checkpoint import AsyncRedisSaver
from relaygraph.checkpoint.sync import check_server
from relaygraph.errors import StaleEpoch
from relaygraph.keys import Keys
from tests.checkpoint.checkpoint_helpers import CommandCounter, checkpoint, config, server_commands


async def _dump_thread(client: redis.asyncio.Redis, keys: Keys, thread: str) -> dict:
    out = {}
    for key in keys.checkpoint_thread_keys(thread):
        out[key] = await client.dump(key)
    return out


async def _steps(saver: AsyncRedisSaver, thread: str, n: int, ns: str = "", run: str = "") -> dict:
    """n checkpoints in a chain; only "counter" changes, "static" never does."""
    parent: dict = config(thread, ns)
    version = None
    for i in range(n):
        version = saver.get_next_version(version, None)
        versions = {"counter": version, "static": "00000000000000000000000000000001.0"}
        new = {"counter": version} if i else dict(versions)
        cp = checkpoint({"counter": i, "static": "x" * 200}, versions)
        md = {"source": "loop", "step": i, "parents": {}, **({"run_id": run} if run else {})}
        parent = await saver.aput(parent, cp, md, new)
        await saver.aput_writes(parent, [("counter", i + 1), ("log", f"step {i}")], f"task-{i}")
    return parent


# -- fencing -------------------------------------------------------------------
async def test_fencing_refuses_stale_token_and_writes_nothing(
    saver: AsyncRedisSaver, aclient: redis.asyncio.Redis, prefix: str
) -> None:
    keys, thread = Keys(prefix), "fence"
    await aclient.set(keys.thread_epoch(thread), 3)
    good = await saver.aput(
        config(thread, fencing_token=3),
        checkpoint({"a": 1}, {"a": 1}),
        {"source": "input", "step": -1},
        {"a": 1},
    )
    await saver.aput_writes(
        {**good, "configurable": {**good["configurable"], "fencing_token": 3}}, [("a", 2)], "t1"
    )
    snapshot = await _dump_thread(aclient, keys, thread)

    await aclient.incr(keys.thread_epoch(thread))  # epoch 4: token 3 is stale
    stale = {"configurable": {**good["configurable"], "fencing_token": 3}}
    with pytest.raises(StaleEpoch, match="epoch"):
        await saver.aput(stale, checkpoint({"a": 9}, {"a": 2}), {"step": 0}, {"a": 2})
    with pytest.raises(StaleEpoch):
        await saver.aput_writes(stale, [("a", 3), ("__error__", "boom")], "t2")
    snapshot[keys.thread_epoch(thread)] = await aclient.dump(keys.thread_epoch(thread))
    assert await _dump_thread(aclient, keys, thread) == snapshot  # nothing written

    tup = await saver.aget_tuple(config(thread))
    assert tup is not None and tup.checkpoint["channel_values"] == {"a": 1}
    assert [w[1:] for w in tup.pending_writes or []] == [("a", 2)]
    assert "fencing_token" not in tup.metadata

    # the current token writes; no token means no check at all
    await saver.aput_writes(
        {"configurable": {**good["configurable"], "fencing_token": 4}}, [("b", 1)], "t3"
    )
    await saver.aput_writes(good, [("c", 1)], "t4")
    tup = await saver.aget_tuple(config(thread))
    assert {w[1] for w in tup.pending_writes or []} == {"a", "b", "c"}


async def test_fencing_without_epoch_key_is_refused(saver: AsyncRedisSaver) -> None:
    with pytest.raises(StaleEpoch, match="none"):
        await saver.aput(config("no-epoch", fencing_token=1), checkpoint({}, {}), {"step": 0}, {})
    assert await saver.aget_tuple(config("no-epoch")) is None


async def test_fencing_token_must_be_an_int(saver: AsyncRedisSaver) -> None:
    with pytest.raises(TypeError):
        await saver.aput(config("x", fencing_token=1.5), checkpoint({}, {}), {}, {})


# -- TTL -------------------------------------------------------------------------
async def test_ttl_covers_every_thread_key_and_is_refreshed(
    aclient: redis.asyncio.Redis, prefix: str
) -> None:
    saver = AsyncRedisSaver(aclient, key_prefix=prefix, ttl=100)
    keys, thread = Keys(prefix), "ttl"
    last = await _steps(saver, thread, 3, run="run-ttl")
    await _steps(saver, thread, 2, ns="child:1")
    await saver.aput_writes(last, [("__interrupt__", "x")], "t-int")
    # Not the 3rd and 7th (an older layout's refs and run index).
    thread_keys = [
        k for i, k in enumerate(keys.checkpoint_thread_keys(thread)[:7]) if i not in (2, 6)
    ]
    for key in thread_keys:
        assert await aclient.exists(key), key
        assert 90_000 < await aclient.pttl(key) <= 100_000, key

    for key in thread_keys:  # as if time passed
        await aclient.pexpire(key, 5_000)
    await saver.aput_writes(last, [("late", 1)], "t-late")  # one write re-arms all
    for key in thread_keys:
        assert await aclient.pttl(key) > 90_000, key

    plain = AsyncRedisSaver(aclient, key_prefix=prefix)
    await _steps(plain, "no-ttl", 2)
    for key in keys.checkpoint_thread_keys("no-ttl")[:7]:
        assert await aclient.pttl(key) in (-1, -2)


# -- round trips -------------------------------------------------------------------
async def test_round_trips_do_not_grow_with_history(
    saver: AsyncRedisSaver, aclient: redis.asyncio.Redis, prefix: str
) -> None:
    short, long = await _steps(saver, "short", 1), await _steps(saver, "long", 300)
    counter = CommandCounter(aclient)
    measured = {}
    try:
        for name, last in (("short", short), ("long", long)):
            for op in ("get_latest", "get_by_id", "put", "put_writes"):
                before = await server_commands(aclient)
                counter.reset()
                if op == "get_latest":
                    tup = await saver.aget_tuple(config(name))
                    assert tup is not None
                elif op == "get_by_id":
                    assert await saver.aget_tuple(last) is not None
                elif op == "put":
                    version = saver.get_next_version(
                        tup.checkpoint["channel_versions"]["counter"], None
                    )
                    versions = {**tup.checkpoint["channel_versions"], "counter": version}
                    cp = checkpoint({"counter": -1, "static": "x" * 200}, versions)
                    last = await saver.aput(last, cp, {"step": 999}, {"counter": version})
                else:
                    await saver.aput_writes(last, [("counter", 1), ("log", "x")], "t-x")
                sent = list(counter.sent)
                after = await server_commands(aclient)
                server = (after - before) - Counter(info=1)  # minus our own INFO
                measured[(name, op)] = (sent, dict(server))
    finally:
        counter.close()
    for op in ("get_latest", "get_by_id", "put", "put_writes"):
        assert measured[("short", op)] == measured[("long", op)], op
        assert len(measured[("long", op)][0]) == 1, measured[("long", op)]  # one round trip
    print("\nround trips / server-side commands, 1 vs 300 steps:")
    for key, value in sorted(measured.items()):
        print(" ", key, value)


async def test_blobs_written_only_for_new_versions(
    saver: AsyncRedisSaver, aclient: redis.asyncio.Redis, prefix: str
) -> None:
    await _steps(saver, "blobs", 50)
    assert await aclient.hlen(Keys(prefix).checkpoint_blobs("blobs")) == 50 + 1
    tup = await saver.aget_tuple(config("blobs"))
    assert tup.checkpoint["channel_values"] == {"counter": 49, "static": "x" * 200}
    assert tup.metadata["step"] == 49
    assert [w[1:] for w in tup.pending_writes] == [("counter", 50), ("log", "step 49")]


# -- listing -------------------------------------------------------------------------
async def test_list_pages_namespaces_and_all_threads(saver: AsyncRedisSaver) -> None:
    await _steps(saver, "l1", 250)
    await _steps(saver, "l1", 3, ns="child:x")
    await _steps(saver, "l2", 2)
    root = [t async for t in saver.alist(config("l1"))]
    assert len(root) == 250 and [t.metadata["step"] for t in root] == list(range(249, -1, -1))
    every_ns = [t async for t in saver.alist({"configurable": {"thread_id": "l1"}})]
    assert len(every_ns) == 253
    ids = [t.checkpoint["id"] for t in every_ns]
    assert ids == sorted(ids, reverse=True)
    page = [t async for t in saver.alist(config("l1"), before=root[99].config, limit=120)]
    assert [t.metadata["step"] for t in page] == list(range(149, 29, -1))
    odd = [t async for t in saver.alist(config("l1"), filter={"step": 7})]
    assert [t.metadata["step"] for t in odd] == [7]
    one = [t async for t in saver.alist(config("l1", checkpoint_id=root[5].checkpoint["id"]))]
    assert [t.metadata["step"] for t in one] == [244]
    everything = [t async for t in saver.alist(None)]
    assert {t.config["configurable"]["thread_id"] for t in everything} == {"l1", "l2"}
    assert len(everything) == 255
    assert len([t async for t in saver.alist(None, limit=3)]) == 3


# -- maintenance ------------------------------------------------------------------------
async def test_prune_keeps_last_n_and_collects_blobs(
    saver: AsyncRedisSaver, aclient: redis.asyncio.Redis, prefix: str
) -> None:
    keys = Keys(prefix)
    await _steps(saver, "p", 20)
    await _steps(saver, "p", 4, ns="child:1")
    await saver.aprune(["p"], keep=5)
    root = [t async for t in saver.alist(config("p"))]
    assert [t.metadata["step"] for t in root] == [19, 18, 17, 16, 15]
    assert len([t async for t in saver.alist(config("p", "child:1"))]) == 4
    # blobs: 5 counters + static (root), 4 counters + static (child)
    assert await aclient.hlen(keys.checkpoint_blobs("p")) == 6 + 5
    assert await aclient.zcard(keys.checkpoint_write_ids("p")) == 2 * (5 + 4)
    assert (await saver.aget_tuple(config("p"))).checkpoint["channel_values"]["counter"] == 19
    with pytest.raises(ValueError):
        await saver.aprune(["p"], strategy="keep_some")
    with pytest.raises(ValueError):
        await saver.aprune(["p"], keep=0)


async def test_delete_for_runs_copy_and_delete_thread(
    saver: AsyncRedisSaver, aclient: redis.asyncio.Redis, prefix: str
) -> None:
    keys = Keys(prefix)
    await _steps(saver, "src", 3, run="r1")
    await _steps(saver, "src", 2, run="r2")
    await saver.acopy_thread("src", "dst")
    for thread in ("src", "dst"):
        runs = [t.metadata["run_id"] async for t in saver.alist(config(thread))]
        assert runs == ["r2", "r2", "r1", "r1", "r1"]
    await saver.adelete_for_runs(["r1"])
    for thread in ("src", "dst"):
        left = [t async for t in saver.alist(config(thread))]
        assert [t.metadata["run_id"] for t in left] == ["r2", "r2"]
        # r2's first checkpoint still reads "static", written by r1's first one
        assert left[-1].checkpoint["channel_values"]["static"] == "x" * 200
        assert await aclient.hlen(keys.checkpoint_blobs(thread)) == 2 + 1
    await saver.adelete_thread("src")
    assert not any([await aclient.exists(k) for k in keys.checkpoint_thread_keys("src")])
    assert len([t async for t in saver.alist(config("dst"))]) == 2
    await saver.adelete_for_runs(["r2"], thread_id="src")  # another thread's: not these
    assert len([t async for t in saver.alist(config("dst"))]) == 2
    await saver.adelete_for_runs(["r2"], thread_id="dst")
    assert [t async for t in saver.alist(config("dst"))] == []


# -- sync bridges --------------------------------------------------------------------------
async def test_async_saver_sync_methods(saver: AsyncRedisSaver) -> None:
    last = await _steps(saver, "bridge", 2)
    with pytest.raises(asyncio.InvalidStateError):
        saver.get_tuple(last)
    tup = await asyncio.to_thread(saver.get_tuple, last)
    assert tup is not None and tup.metadata["step"] == 1
    listed = await asyncio.to_thread(lambda: list(saver.list(config("bridge"))))
    assert len(listed) == 2


def test_sync_saver_roundtrip(sync_saver, client, prefix: str) -> None:
    cp = checkpoint({"a": [1, 2], "b": {"x": None}}, {"a": 1, "b": 1})
    stored = sync_saver.put(config("sync"), cp, {"source": "input", "step": -1}, {"a": 1, "b": 1})
    sync_saver.put_writes(stored, [("a", 3)], "task")
    tup = sync_saver.get_tuple(config("sync"))
    assert tup.checkpoint["channel_values"] == {"a": [1, 2], "b": {"x": None}}
    assert tup.pending_writes == [("task", "a", 3)]
    assert [t.checkpoint["id"] for t in sync_saver.list(config("sync"))] == [cp["id"]]
    sync_saver.delete_thread("sync")
    assert sync_saver.get_tuple(config("sync")) is None


async def test_rejects_bad_input(saver: AsyncRedisSaver, aclient) -> None:
    with pytest.raises(ValueError):
        await saver.aput(config("a", "ns\x00x"), checkpoint({}, {}), {}, {})
    with pytest.raises(ValueError):
        await saver.aget_tuple(config(""))
    decoding = redis.asyncio.Redis(decode_responses=True)
    with pytest.raises(ValueError, match="decode_responses"):
        AsyncRedisSaver(decoding)
    await decoding.aclose()
    thread = uuid4().hex
    assert await saver.aget_tuple(config(thread)) is None
    assert [t async for t in saver.alist(config(thread))] == []


def test_thread_keys_share_one_cluster_slot() -> None:
    keys = Keys("rg")
    for thread in ("t", "a-much-longer-thread-id", str(uuid4())):
        slots = {key_slot(k.encode()) for k in keys.checkpoint_thread_keys(thread)}
        assert len(slots) == 1, thread
    assert keys.thread_of_checkpoint_ids(keys.checkpoint_ids("x}y")) == "x}y"


def test_server_version_check() -> None:
    check_server({"redis_version": "6.2.0"})
    check_server({"redis_version": "7.2.4", "valkey_version": "9.1.2"})
    check_server({"node-a": {"redis_version": "7.0.0"}, "node-b": {"redis_version": "6.2.14"}})
    with pytest.raises(RuntimeError, match=r"6\.2"):
        check_server({"redis_version": "6.0.9"})


# -- an older layout ---------------------------------------------------------------
async def test_checkpoints_of_the_older_layout_are_read_pruned_and_deleted(
    saver: AsyncRedisSaver, aclient: redis.asyncio.Redis, prefix: str
) -> None:
    """Layout 3 kept a checkpoint's refs in their own hash and the bare record
    in ``cps``: such threads read, list, prune and delete as before."""
    keys = Keys(prefix)
    await _steps(saver, "old", 3, run="r1")
    await _steps(saver, "old", 2, run="r2")
    expected = [t async for t in saver.alist(config("old"))]
    records = keys.checkpoint_records("old")
    for field, stored in (await aclient.hgetall(records)).items():
        assert stored[:1] == b"R"  # refs first, then the record
        length, _, rest = stored[1:].partition(b":")
        await aclient.hset(keys.checkpoint_refs("old"), field, rest[: int(length)])
        await aclient.hset(records, field, rest[int(length) :])
    assert [t async for t in saver.alist(config("old"))] == expected
    await saver.adelete_for_runs(["r1"], thread_id="old")
    left = [t async for t in saver.alist(config("old"))]
    assert [t.metadata["run_id"] for t in left] == ["r2", "r2"]
    assert left[-1].checkpoint["channel_values"]["static"] == "x" * 200  # its blob stayed
    await saver.aprune(["old"], keep=1)
    assert [
        t.checkpoint["channel_values"] for t in [t async for t in saver.alist(config("old"))]
    ] == [expected[0].checkpoint["channel_values"]]
    await saver.adelete_thread("old")
    assert not any([await aclient.exists(k) for k in keys.checkpoint_thread_keys("old")])
