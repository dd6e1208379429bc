"""Semantic search: the embedding function ``store.index.embed`` names, the
texts of an item it embeds, and how vectors are kept in Redis (float32, one
after another, after a 4-byte count of dimensions)."""

from __future__ import annotations

import json
import struct
from array import array
from pathlib import Path
from typing import Any

from langchain_core.embeddings import Embeddings
from langgraph.store.base import ensure_embeddings, get_text_at_path, tokenize_path

from relaygraph.config import StoreIndex
from relaygraph.errors import InvalidInput
from relaygraph.user_code import TargetError, import_target


def load_embeddings(index: StoreIndex, root: Path) -> Embeddings:
    """``./file.py:function`` (relative to langgraph.json) or
    ``package.module:function``; a function from texts to vectors (sync or
    async) or a LangChain ``Embeddings``."""
    try:
        embed = import_target(index.embed, root)
    except TargetError as exc:
        raise InvalidInput(f"store.index.embed: {exc}") from None
    if not isinstance(embed, Embeddings) and not callable(embed):
        raise InvalidInput(f"store.index.embed: {index.embed!r} is not callable")
    return ensure_embeddings(embed)


def texts_of(value: dict[str, Any], fields: list[str] | tuple[str, ...]) -> list[str]:
    """What is embedded of an item: each field path's text (``$``: the whole
    value as JSON)."""
    texts: list[str] = []
    for field in fields:
        if field == "$":
            texts.append(json.dumps(value, sort_keys=True, ensure_ascii=False))
        else:
            texts.extend(t for t in get_text_at_path(value, tokenize_path(field)) if t)
    return texts


def pack(vectors: list[list[float]]) -> bytes:
    if not vectors:
        return b""
    dims = len(vectors[0])
    flat = array("f", (x for v in vectors for x in v))
    return struct.pack("<I", dims) + flat.tobytes()


def unpack(raw: bytes | None) -> list[list[float]]:
    if not raw or len(raw) < 4:
        return []
    (dims,) = struct.unpack("<I", raw[:4])
    flat = array("f")
    flat.frombytes(raw[4:])
    return [list(flat[i : i + dims]) for i in range(0, len(flat), dims)] if dims else []
