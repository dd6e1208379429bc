"""Every Redis key relaygraph writes, built in one place.

One thread's keys share the hash tag ``{<thread_id>}``, so a script over them
stays in one Redis Cluster slot. An index that spans threads (leases, the
thread list, expiries, Store namespaces) is split into ``shards`` keys, each
with a hash tag of its own, so that on a cluster its traffic spreads over the
masters; a member always goes to the shard :meth:`Keys.shard_of` names.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from dataclasses import dataclass


def _namespace_tag(namespace: tuple[str, ...]) -> str:
    return hashlib.blake2b("\x00".join(namespace).encode(), digest_size=10).hexdigest()


@dataclass(frozen=True, slots=True)
class Keys:
    """Redis keys. Every key of one thread carries the hash tag ``{<thread_id>}``
    so one thread's multi-key scripts stay in one Redis Cluster slot."""

    prefix: str = "rg"
    shards: int = 16
    """How many keys each cross-thread index is split into (``REDIS_INDEX_SHARDS``)."""

    def shard_of(self, name: str) -> int:
        """The shard of a thread id (or a Store namespace's tag)."""
        return zlib.crc32(name.encode()) % self.shards

    def _shard(self, index: str, shard: int) -> str:
        # The same tag for shard n of every index: one slot holds all of them.
        return f"{self.prefix}:{index}:{{i{shard}}}"

    def _shards(self, index: str) -> list[str]:
        return [self._shard(index, n) for n in range(self.shards)]

    def thread(self, thread_id: str) -> str:
        return f"{self.prefix}:thread:{{{thread_id}}}"

    def thread_queue(self, thread_id: str) -> str:
        """Run ids waiting for the thread's active run to end (``enqueue``)."""
        return f"{self.prefix}:thread:{{{thread_id}}}:queue"

    def thread_queued(self, thread_id: str) -> str:
        """Hash run id -> request of each queued run: what the thread's next
        run is sent with when it is handed on (read inside one script)."""
        return f"{self.prefix}:thread:{{{thread_id}}}:queued"

    def thread_runs(self, thread_id: str) -> str:
        """Sorted set of the thread's run ids, scored by creation time."""
        return f"{self.prefix}:thread:{{{thread_id}}}:runs"

    def thread_resumes(self, thread_id: str) -> str:
        """Hash interrupt id -> run id: each interrupt is resumed once."""
        return f"{self.prefix}:thread:{{{thread_id}}}:resumes"

    def run(self, thread_id: str, run_id: str) -> str:
        return f"{self.prefix}:run:{{{thread_id}}}:{run_id}"

    @property
    def layout(self) -> str:
        """The version of the records' layout (``relaygraph.layout``)."""
        return f"{self.prefix}:layout"

    @property
    def index_shards(self) -> str:
        """The number of shards the indexes were written with (set once)."""
        return f"{self.prefix}:layout:shards"

    def threads_index(self, thread_id: str) -> str:
        """The shard holding ``thread_id`` of the sorted set of every thread id,
        scored by creation time (search)."""
        return self._shard("threads", self.shard_of(thread_id))

    def threads_index_shards(self) -> list[str]:
        return self._shards("threads")

    def threads_expiry(self, thread_id: str) -> str:
        """The shard holding ``thread_id`` of the threads with a TTL, scored by
        when (ms) the sweeper looks at each next."""
        return self._shard("threads:expiry", self.shard_of(thread_id))

    def threads_expiry_shards(self) -> list[str]:
        return self._shards("threads:expiry")

    def leases(self, thread_id: str) -> str:
        """The shard for ``thread_id`` of the sorted set ``<thread_id>/<run_id>``
        -> deadline (ms) of every run that must still end: what the sweeper
        re-dispatches when a lease runs out."""
        return self._shard("leases", self.shard_of(thread_id))

    def leases_shards(self) -> list[str]:
        return self._shards("leases")

    # -- crons: one hash tag for all (few keys; issue 14 may shard them) --------
    def cron(self, cron_id: str) -> str:
        """Hash of a cron: ``doc`` (the Cron as the API shows it, without
        ``next_run_date``, JSON) and ``next_ms`` (its next fire, epoch ms)."""
        return f"{self.prefix}:cron:{{crons}}:{cron_id}"

    @property
    def crons_index(self) -> str:
        """Sorted set of every cron id, scored by creation time (ms)."""
        return f"{self.prefix}:crons:{{crons}}:index"

    @property
    def crons_due(self) -> str:
        """Sorted set cron id -> next fire (ms) of every enabled cron."""
        return f"{self.prefix}:crons:{{crons}}:due"

    @property
    def crons_fires(self) -> str:
        """Sorted set ``<cron_id>/<tick_ms>`` -> deadline (ms) of every claimed
        tick whose run is not yet recorded (redone after the deadline)."""
        return f"{self.prefix}:crons:{{crons}}:fires"

    def crons_of_thread(self, thread_id: str) -> str:
        """Set of the cron ids of a thread (deleted with the thread)."""
        return f"{self.prefix}:crons:{{crons}}:thread:{thread_id}"

    def assistant(self, assistant_id: str) -> str:
        """Hash of an assistant: ``doc`` (the assistant as the API shows it,
        JSON) and ``version`` (the highest version ever written)."""
        return f"{self.prefix}:assistant:{{{assistant_id}}}"

    def assistant_versions(self, assistant_id: str) -> str:
        """Hash version -> that version of the assistant (JSON)."""
        return f"{self.prefix}:assistant:{{{assistant_id}}}:versions"

    @property
    def assistants_index(self) -> str:
        """Sorted set of every assistant id, scored by creation time (ms)."""
        return f"{self.prefix}:assistants"

    # -- the Store (relaygraph.store) ---------------------------------------------
    # One namespace's keys share the hash tag of a digest of its labels (labels
    # may hold any character but NUL, braces included).
    def store_items(self, namespace: tuple[str, ...]) -> str:
        """Hash key -> the item's value (JSON)."""
        return f"{self.prefix}:store:{{{_namespace_tag(namespace)}}}:items"

    def store_meta(self, namespace: tuple[str, ...]) -> str:
        """Hash key -> ``created_at TAB updated_at TAB ttl TAB expires_ms``."""
        return f"{self.prefix}:store:{{{_namespace_tag(namespace)}}}:meta"

    def store_order(self, namespace: tuple[str, ...]) -> str:
        """Sorted set key -> when it was first put (the namespace's counter)."""
        return f"{self.prefix}:store:{{{_namespace_tag(namespace)}}}:order"

    def store_seq(self, namespace: tuple[str, ...]) -> str:
        return f"{self.prefix}:store:{{{_namespace_tag(namespace)}}}:seq"

    def store_vectors(self, namespace: tuple[str, ...]) -> str:
        """Hash key -> the item's embeddings (float32, one after another)."""
        return f"{self.prefix}:store:{{{_namespace_tag(namespace)}}}:vectors"

    def store_namespaces(self, namespace: tuple[str, ...]) -> str:
        """The shard holding ``namespace`` of the sorted set of every namespace
        (labels joined by NUL), all scored 0, so that a lexicographic range is a
        prefix."""
        return self._shard("store:namespaces", self.shard_of(_namespace_tag(namespace)))

    def store_namespaces_shards(self) -> list[str]:
        return self._shards("store:namespaces")

    def store_expiry(self, namespace: tuple[str, ...]) -> str:
        """The shard for ``namespace`` of the sorted set ``[namespace, key]``
        (JSON) -> when the item expires (ms)."""
        return self._shard("store:expiry", self.shard_of(_namespace_tag(namespace)))

    def store_expiry_shards(self) -> list[str]:
        return self._shards("store:expiry")

    def graph_catalog(self, graph_id: str) -> str:
        """Hash of one graph's published versions (``relaygraph.catalog``):
        ``<version>`` -> a ``GraphEntry`` (JSON), ``current`` -> the version
        published last. Written by executors at start, read by gateways."""
        return f"{self.prefix}:graph:{{{graph_id}}}"

    def executor(self, executor_id: str) -> str:
        """Liveness key of an executor, refreshed while it lives (TTL)."""
        return f"{self.prefix}:executor:{executor_id}"

    def thread_epoch(self, thread_id: str) -> str:
        """An older layout's fencing epoch of the thread, read where the
        thread's record has no ``epoch`` field yet (a claim sets that field)."""
        return f"{self.prefix}:thread:{{{thread_id}}}:epoch"

    # -- checkpointer keys (relaygraph.checkpoint) ---------------------------
    # A thread's checkpoints live in a fixed set of seven keys, whatever the
    # history length: fields and members start with the checkpoint namespace, so
    # every namespace of the thread shares them, and a TTL refresh or a
    # ``delete_thread`` touches seven keys, not one per checkpoint or blob.
    def checkpoint_prefix(self) -> str:
        return f"{self.prefix}:cp"

    def _cp(self, thread_id: str, part: str) -> str:
        return f"{self.prefix}:cp:{{{thread_id}}}:{part}"

    def checkpoint_ids(self, thread_id: str) -> str:
        """Sorted set (all scores 0, ordered by member) of ``ns\\0checkpoint_id``:
        uuid6 ids sort by time, so a lex range per namespace lists newest first."""
        return self._cp(thread_id, "ids")

    def checkpoint_records(self, thread_id: str) -> str:
        """Hash ``ns\\0checkpoint_id`` -> msgpack [checkpoint, metadata, parent id]."""
        return self._cp(thread_id, "cps")

    def checkpoint_refs(self, thread_id: str) -> str:
        """Hash ``ns\\0checkpoint_id`` -> length-prefixed strings the Lua scripts
        read: the run id, then ``channel\\0version`` of every channel it holds."""
        return self._cp(thread_id, "refs")

    def checkpoint_blobs(self, thread_id: str) -> str:
        """Hash ``ns\\0channel\\0version`` -> one serialized channel value."""
        return self._cp(thread_id, "blobs")

    def checkpoint_write_ids(self, thread_id: str) -> str:
        """Sorted set (lex) of ``ns\\0checkpoint_id\\0task_id\\0idx``: the pending
        writes of one checkpoint are one lex range."""
        return self._cp(thread_id, "wids")

    def checkpoint_writes(self, thread_id: str) -> str:
        """Hash, same fields as :meth:`checkpoint_write_ids` -> one pending write."""
        return self._cp(thread_id, "writes")

    def checkpoint_runs(self, thread_id: str) -> str:
        """Sorted set (lex) of ``run_id\\0ns\\0checkpoint_id`` (``delete_for_runs``)."""
        return self._cp(thread_id, "runs")

    def checkpoint_thread_keys(self, thread_id: str) -> list[str]:
        """The thread's checkpointer keys in the order the Lua scripts expect,
        then the two that hold its fencing epoch (read, never written, by the
        checkpointer): an older layout's key, and the thread's record."""
        return [
            self.checkpoint_ids(thread_id),
            self.checkpoint_records(thread_id),
            self.checkpoint_refs(thread_id),
            self.checkpoint_blobs(thread_id),
            self.checkpoint_write_ids(thread_id),
            self.checkpoint_writes(thread_id),
            self.checkpoint_runs(thread_id),
            self.thread_epoch(thread_id),
            self.thread(thread_id),
        ]

    def checkpoint_ids_pattern(self) -> str:
        """SCAN pattern matching every thread's :meth:`checkpoint_ids` key."""
        escaped = re.sub(r"([*?\[\]\\])", r"\\\1", self.prefix)
        return f"{escaped}:cp:{{*}}:ids"

    def thread_of_checkpoint_ids(self, key: str) -> str | None:
        """The thread id in a key matched by :meth:`checkpoint_ids_pattern`."""
        head, tail = f"{self.prefix}:cp:{{", "}:ids"
        if key.startswith(head) and key.endswith(tail) and len(key) > len(head) + len(tail):
            return key[len(head) : -len(tail)]
        return None

    # -- reviewer keys (relaygraph_reviewer) ---------------------------------
    # One inbox per durable consumer name; its keys share the hash tag
    # ``{<durable>}`` so the inbox's scripts stay in one Redis Cluster slot.
    def reviewer_pending(self, durable: str) -> str:
        """Hash thread id -> the thread's pending interrupt event (JSON)."""
        return f"{self.prefix}:reviewer:{{{durable}}}:pending"

    def reviewer_recent(self, durable: str) -> str:
        """List of answered interrupts (JSON), newest first, capped."""
        return f"{self.prefix}:reviewer:{{{durable}}}:recent"

    def reviewer_webhook(self, durable: str) -> str:
        """Hash msg id -> a webhook delivery not taken yet (JSON)."""
        return f"{self.prefix}:reviewer:{{{durable}}}:webhook"

    def reviewer_webhook_due(self, durable: str) -> str:
        """Sorted set of webhook deliveries' msg ids, scored by when they are due."""
        return f"{self.prefix}:reviewer:{{{durable}}}:webhook_due"

    def reviewer_audit(self, durable: str) -> str:
        """Stream of every answer the reviewer gave or saw given (who, when,
        which interrupt, the answer, the run it started), oldest first."""
        return f"{self.prefix}:reviewer:{{{durable}}}:audit"

    def reviewer_looks(self, durable: str) -> str:
        """Sorted set of thread ids, scored by when the reviewer looks at their
        pending interrupt again: its deadline, or an answer taken but not yet
        confirmed by the gateway."""
        return f"{self.prefix}:reviewer:{{{durable}}}:looks"

    def reviewer_seen(self, durable: str) -> str:
        """Sorted set of recorded interrupt msg ids, scored by time (dedupe)."""
        return f"{self.prefix}:reviewer:{{{durable}}}:seen"
