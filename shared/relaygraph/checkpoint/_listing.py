"""Listing checkpoints a page at a time: which checkpoint fields of a thread
come next, newest first, from its index (a sorted set of ``ns\x00id``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from relaygraph.checkpoint._requests import Cmds, Op, _s


@dataclass(slots=True)
class ListCursor:
    """Where a listing of one thread stands. ``ns`` ``None``: every namespace;
    ``cid``: one checkpoint id; ``before_id``: only older ones."""

    index_key: str
    ns: str | None
    cid: str | None
    before_id: str | None
    upper: bytes | None = None
    buffered: list[str] | None = None

    def next_page(self, page: int) -> Op:
        """The next fields (at most ``page``), and whether they are the last."""
        ns, cid, before_id = self.ns, self.cid, self.before_id
        if ns is not None and cid:  # one checkpoint: no index lookup
            return ([f"{ns}\x00{cid}"] if not before_id or cid < before_id else []), True
        if ns is None or cid:  # every namespace, or one id: sort here
            if self.buffered is None:
                (members,) = yield Cmds([("ZRANGE", self.index_key, 0, -1)])
                self.buffered = _newest_first(members, ns, cid, before_id)
            fields, self.buffered = self.buffered[:page], self.buffered[page:]
            return fields, not self.buffered
        # One namespace: a lex range, newest first, a page at a time.
        prefix = f"{ns}\x00".encode()
        if self.upper is None:
            self.upper = b"(" + prefix + (before_id.encode() if before_id else b"\xff")
        (members,) = yield Cmds(
            [("ZREVRANGEBYLEX", self.index_key, self.upper, b"[" + prefix, "LIMIT", 0, page)]
        )
        if members:
            self.upper = b"(" + members[-1]
        return [_s(m) for m in members], len(members) < page


def _newest_first(
    members: Iterable[bytes], ns: str | None, cid: str | None, before: str | None
) -> list[str]:
    rows = [_s(m).rsplit("\x00", 1) for m in members]
    rows = [
        r
        for r in rows
        if (ns is None or r[0] == ns) and (not cid or r[1] == cid) and (not before or r[1] < before)
    ]
    rows.sort(key=lambda r: (r[1], r[0]), reverse=True)
    return [f"{n}\x00{c}" for n, c in rows]
