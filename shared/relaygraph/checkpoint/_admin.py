"""Whole-thread operations: delete_thread, delete_for_runs, copy_thread, prune."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from relaygraph.checkpoint._common import RedisSaverCore
from relaygraph.checkpoint._requests import Call, Cmds, Op, _s, _strings_first, _text

PRUNE_STRATEGIES = ("keep_latest", "delete")


class AdminOps(RedisSaverCore):
    def _forget_runs(self, run_ids: Iterable[bytes | str], thread_id: str) -> Cmds | None:
        cmds: list[tuple[Any, ...]] = []
        for run in run_ids:
            run_id = _s(run)
            with self._indexed_lock:
                self._indexed_runs.pop((run_id, thread_id), None)
            if run_id:
                cmds.append(("SREM", self.keys.checkpoint_run_threads(run_id), thread_id))
        return Cmds(cmds) if cmds else None

    def _op_delete_thread(self, thread_id: str) -> Op:
        thread_id = self._thread({"thread_id": thread_id})
        self._unsure(thread_id)
        runs = yield Call("delete_thread", self._tkeys(thread_id), [])
        if (forget := self._forget_runs(runs, thread_id)) is not None:
            yield forget

    def _op_delete_for_runs(self, run_ids: Sequence[str]) -> Op:
        runs = list(dict.fromkeys(_text(r, "run_id") for r in run_ids if r))
        if not runs:
            return
        members = yield Cmds([("SMEMBERS", self.keys.checkpoint_run_threads(r)) for r in runs])
        by_thread: dict[str, list[str]] = defaultdict(list)
        for run_id, threads in zip(runs, members, strict=True):
            for thread in threads:
                by_thread[_s(thread)].append(run_id)
        for thread_id, thread_runs in sorted(by_thread.items()):
            self._unsure(thread_id)  # its checkpoints change: the cache would not be exact
            yield Call("delete_runs", self._tkeys(thread_id), thread_runs)
        with self._indexed_lock:
            for key in [(r, t) for r in runs for t in by_thread]:
                self._indexed_runs.pop(key, None)
        yield Cmds([("UNLINK", self.keys.checkpoint_run_threads(r)) for r in runs])

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
        runs = {_strings_first(refs) for refs in snapshot[2][1::2]}
        for run_id in sorted(runs):
            if (index := self._run_index(run_id, target)) is not None:
                yield index
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
