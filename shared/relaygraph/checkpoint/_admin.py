"""Whole-thread operations: delete_thread, delete_for_runs, copy_thread, prune."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from relaygraph.checkpoint._common import RedisSaverCore
from relaygraph.checkpoint._requests import Call, Op, Scan, _s, _text

PRUNE_STRATEGIES = ("keep_latest", "delete")


class AdminOps(RedisSaverCore):
    def _op_delete_thread(self, thread_id: str) -> Op:
        thread_id = self._thread({"thread_id": thread_id})
        self._unsure(thread_id)
        yield Call("delete_thread", self._tkeys(thread_id), [])

    def _op_delete_for_runs(self, run_ids: Sequence[str], thread_id: str | None = None) -> Op:
        """The checkpoints of ``run_ids`` go (and blobs nothing else uses). A
        run's checkpoints are found through its thread: without ``thread_id``
        every thread is looked at (a scan of the keyspace; maintenance only)."""
        runs = list(dict.fromkeys(_text(r, "run_id") for r in run_ids if r))
        if not runs:
            return
        if thread_id is not None:
            threads = [self._thread({"thread_id": thread_id})]
        else:
            found = yield Scan(self.keys.checkpoint_ids_pattern())
            threads = sorted({t for k in found if (t := self.keys.thread_of_checkpoint_ids(_s(k)))})
        for thread in threads:
            self._unsure(thread)  # its checkpoints change: the cache would not be exact
            yield Call("delete_runs", self._tkeys(thread), runs)

    def _op_copy_thread(self, source_thread_id: str, target_thread_id: str) -> Op:
        """Merge every checkpoint, blob and pending write of the source into the
        target. The source is read in one atomic script, the target written in
        another: both are consistent snapshots, in their own cluster slots."""
        source = self._thread({"thread_id": source_thread_id})
        target = self._thread({"thread_id": target_thread_id})
        if source == target:
            return
        self._unsure(target)
        snapshot = yield Call("snapshot", self._tkeys(source), [])
        if not snapshot[0]:
            return
        args: list[Any] = [self._ttl_ms]
        for part in snapshot:
            args += [len(part), *part]
        yield Call("merge", self._tkeys(target), args)

    def _op_prune(self, thread_ids: Sequence[str], strategy: str, keep: int) -> Op:
        if strategy not in PRUNE_STRATEGIES:
            raise ValueError(f"unknown prune strategy {strategy!r}: use one of {PRUNE_STRATEGIES}")
        if strategy == "keep_latest" and (isinstance(keep, bool) or keep < 1):
            raise ValueError("keep must be at least 1 (use strategy='delete' to drop all)")
        for thread_id in dict.fromkeys(thread_ids):
            if strategy == "delete":
                yield from self._op_delete_thread(thread_id)
            else:
                thread_id = self._thread({"thread_id": thread_id})
                self._unsure(thread_id)
                yield Call("prune", self._tkeys(thread_id), [keep])
