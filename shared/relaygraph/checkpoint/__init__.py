"""A LangGraph checkpointer on plain Redis commands and Lua (Redis >= 6.2, Valkey).

``AsyncRedisSaver`` (``redis.asyncio``) and ``RedisSaver`` (sync) share one key
layout: a thread's data sits in seven keys tagged ``{<thread_id>}`` (one Redis
Cluster slot), listed in ``relaygraph.keys.Keys.checkpoint_thread_keys``:

* ``ids``: sorted set of ``ns\\0checkpoint_id`` (lex order = time order per
  namespace), so the newest checkpoint of a namespace is one ZREVRANGEBYLEX;
* ``cps`` / ``refs``: the checkpoint records, and for the Lua scripts the run
  id and ``channel\\0version`` of each channel it holds (the run id finds a
  run's checkpoints for ``delete_for_runs``);
* ``blobs``: one value per (namespace, channel, version), written only when the
  version changes (``new_versions``), shared by every checkpoint that holds it;
* ``wids`` / ``writes``: pending writes, one lex range per checkpoint;
* ``runs``: an older layout's index of checkpoints by run, only deleted now;
  ``rg:cp:run:{<run_id>}:threads`` lists the threads a run wrote to.

Reading a checkpoint (newest or by id) is one script call; ``put`` and
``put_writes`` are one script call each, whatever the history length, and
``batch`` applies many of them in one (one fence, each key written once).

Fencing: when ``config["configurable"]["fencing_token"]`` is set, ``put`` and
``put_writes`` check in the same script that the thread's epoch key
(``Keys.thread_epoch``) holds that number, else nothing is written and
:class:`relaygraph.errors.StaleEpoch` is raised.

A subclass may remember what a fencing token read and wrote, through the
core's ``_cached_latest`` / ``_seen_*`` / ``_unsure`` hooks: the executor's
``AttemptSaver`` (``relaygraph_executor.attempts``) does, to answer a run
attempt's reads of its latest checkpoint without a round trip.

Requests of ``AsyncRedisSaver`` on a plain client go out on their own, or,
given ``pipeline=AutoPipeline(client)`` (``relaygraph.pipelining``), together
with what the rest of the service asks in the same turn of the event loop.

TTL: with ``ttl=<seconds>`` every write re-arms the expiry of all seven keys of
the thread together (the epoch key belongs to the executor and is left alone).

Serialization (see ``_serde``): langgraph's JsonPlusSerializer, never pickle
nor legacy json; msgpack types outside langgraph's safe set are refused with
:class:`UnsafeCheckpointData`, when written and when read, unless allowed:
``allowed_types=[MyModel]``, ``saver.with_allowlist(graph_allowlist(graph))``,
or ``LANGGRAPH_STRICT_MSGPACK=true`` (then ``StateGraph.compile`` allows the
types of the state schema itself).
"""

from relaygraph.checkpoint._common import FENCING_TOKEN
from relaygraph.checkpoint._serde import StrictSerializer, UnsafeCheckpointData, graph_allowlist
from relaygraph.checkpoint.aio import AsyncRedisSaver
from relaygraph.checkpoint.sync import RedisSaver

__all__ = [
    "FENCING_TOKEN",
    "AsyncRedisSaver",
    "RedisSaver",
    "StrictSerializer",
    "UnsafeCheckpointData",
    "graph_allowlist",
]
