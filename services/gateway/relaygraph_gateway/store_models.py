"""Request bodies of the LangGraph Server Store routes (``/store/*``).

A namespace label is a non-empty string without periods (GET names a
namespace as its labels joined by periods); a label that breaks the rule is a
422 naming it, as LangGraph Server answers it (there as plain text, here as
``{"detail": ...}`` like every other error).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field

from relaygraph_gateway.models import MAX_OFFSET, MAX_TTL_MINUTES, Body


def label_problem(label: str) -> str | None:
    if not label or "." in label:
        return f"Namespace label {label!r} must be a non-empty string without periods"
    return None


def _labels(namespace: list[str]) -> list[str]:
    for label in namespace:
        if problem := label_problem(label):
            raise ValueError(problem)
    return namespace


Namespace = Annotated[list[str], AfterValidator(_labels)]


class StorePut(Body):
    namespace: Namespace
    key: str
    value: dict[str, Any]
    index: Literal[False] | list[str] | None = None
    ttl: float | None = Field(None, gt=0, le=MAX_TTL_MINUTES)


class StoreDelete(Body):
    namespace: Namespace = Field(default_factory=list)
    key: str


class StoreSearch(Body):
    namespace_prefix: Namespace | None = None
    filter: dict[str, Any] | None = None
    limit: int = Field(10, ge=0, le=10_000)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)
    query: str | None = None
    refresh_ttl: bool | None = None


class StoreNamespaces(Body):
    prefix: Namespace | None = None
    suffix: Namespace | None = None
    max_depth: int | None = Field(None, ge=0)
    limit: int = Field(100, ge=0, le=10_000)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)
