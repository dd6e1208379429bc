"""What a search keeps: LangGraph's item filters (``$eq``, ``$ne``, ``$gt``,
``$gte``, ``$lt``, ``$lte``, nested partial match, lists exactly), namespace
match conditions (``*`` matches one label), and cosine similarity."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from langgraph.store.base import MatchCondition


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        return float(value)
    except ValueError:
        return None


def _ordered(test: Callable[[float, float], bool]) -> Callable[[Any, Any], bool]:
    """A comparison of numbers; a stored value that is not a number does not match."""

    def compare(actual: Any, operand: Any) -> bool:
        a, b = _number(actual), _number(operand)
        return a is not None and b is not None and test(a, b)

    return compare


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "$eq": lambda a, b: bool(a == b),
    "$ne": lambda a, b: bool(a != b),
    "$gt": _ordered(lambda a, b: a > b),
    "$gte": _ordered(lambda a, b: a >= b),
    "$lt": _ordered(lambda a, b: a < b),
    "$lte": _ordered(lambda a, b: a <= b),
}


def check_filter(filter: dict[str, Any] | None) -> None:
    """Refuse a filter no item could be tested with (``ValueError``), before
    any item is read, so the answer does not depend on what is stored."""
    for expected in (filter or {}).values():
        _check_expected(expected)


def _check_expected(expected: Any) -> None:
    if isinstance(expected, dict):
        if any(k.startswith("$") for k in expected):
            for op, operand in expected.items():
                if op not in _COMPARE:
                    raise ValueError(f"Unsupported operator: {op}")
                if op not in ("$eq", "$ne") and _number(operand) is None:
                    raise ValueError(f"{op} needs a number, got {operand!r}")
        else:
            for value in expected.values():
                _check_expected(value)
    elif isinstance(expected, list):
        for value in expected:
            _check_expected(value)


def _matches_value(actual: Any, expected: Any) -> bool:
    if isinstance(expected, dict):
        if any(k.startswith("$") for k in expected):
            for op, operand in expected.items():
                compare = _COMPARE.get(op)
                if compare is None:
                    raise ValueError(f"Unsupported operator: {op}")
                if not compare(actual, operand):
                    return False
            return True
        return isinstance(actual, dict) and all(
            k in actual and _matches_value(actual[k], v) for k, v in expected.items()
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(expected)
            and all(_matches_value(a, e) for a, e in zip(actual, expected, strict=True))
        )
    return bool(actual == expected)


def matches_filter(value: dict[str, Any], filter: dict[str, Any] | None) -> bool:
    """Every top-level key of ``filter`` holds for ``value``."""
    return not filter or all(_matches_value(value.get(k), v) for k, v in filter.items())


def _labels_match(labels: Sequence[str], pattern: Sequence[str]) -> bool:
    return len(labels) >= len(pattern) and all(
        p == "*" or p == label for label, p in zip(labels, pattern, strict=False)
    )


def namespace_matches(namespace: tuple[str, ...], conditions: Iterable[MatchCondition]) -> bool:
    for condition in conditions:
        path = tuple(condition.path)
        if condition.match_type == "prefix" and not _labels_match(namespace, path):
            return False
        if condition.match_type == "suffix" and not _labels_match(namespace[::-1], path[::-1]):
            return False
    return True


def literal_prefix(conditions: Iterable[MatchCondition]) -> tuple[str, ...]:
    """The labels every match must start with (before any ``*``)."""
    for condition in conditions:
        if condition.match_type == "prefix":
            fixed: list[str] = []
            for label in condition.path:
                if label == "*":
                    break
                fixed.append(label)
            return tuple(fixed)
    return ()


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=False))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0
