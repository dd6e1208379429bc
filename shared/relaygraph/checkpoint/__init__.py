"""A LangGraph checkpointer on plain Redis commands and Lua (Redis >= 6.2, Valkey).

``AsyncRedisSaver`` (``redis.asyncio``) and ``RedisSaver`` (sync) share one key
layout: a thread's data sits in seven keys tagged ``{<thread_id>}`` (one Redis
Cluster slot), listed in ``relaygraph.subjects.Keys.checkpoint_thread_keys``:

* ``ids``: sorted set of ``ns\\0checkpoint_id`` (lex order = time order per
  namespace), so the newest checkpoint of a namespace is one ZREVRANGEBYLEX;
* ``cps`` / ``refs``: the checkpoint records, and for the Lua scripts the run
  id and ``channel\\0version`` of each channel it holds;
* ``blobs``: one value per (namespace, channel, version), written only when the
  version changes (``new_versions``), shared by every checkpoint that holds it;
* ``wids`` / ``writes``: pending writes, one lex range per checkpoint;
* ``runs``: ``run_id\\0ns\\0checkpoint_id`` for ``delete_for_runs`` (plus
  ``rg:cp:run:{<run_id>}:threads``, the threads a run wrote to).

Reading a checkpoint (newest or by id) is one script call; ``put`` and
``put_writes`` are one script call each, whatever the history length.

Fencing: when ``config["configurable"]["fencing_token"]`` is set, ``put`` and
``put_writes`` check in the same script that the thread's epoch key
(``Keys.thread_epoch``) holds that number, else nothing is written and
:class:`relaygraph.errors.StaleEpoch` is raised.

Attempt cache: while a token is current only its holder can write the thread,
so the saver keeps the latest root checkpoint as that token read and wrote it
(the bytes Redis holds) and answers reads of the latest root checkpoint that
carry the same token from it, without a round trip. A write that fails, or
that is cut off, drops it; ``seed_attempt`` starts it from a read sent
elsewhere (the executor sends it with its claim), ``attempt_base`` is what the
attempt started from (for a rollback), ``forget_attempt`` ends it. Reads
without a token, by checkpoint id, or of a subgraph's namespace go to Redis.
Writes without a token (``update_state``) are not seen by a running attempt's
cached reads: as before, such a write races with the run either way.

Requests of ``AsyncRedisSaver`` on a plain client join the process's
auto-pipeline (``relaygraph.pipelining``): what concurrent runs ask in one turn
of the event loop goes out as one pipeline.

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
