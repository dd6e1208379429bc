"""What LangGraph Server does with an assistant's fields, as pure functions:
how ``config["configurable"]`` and ``context`` mirror each other, what a new
version keeps, how a search filters, sorts and selects, and what a run gets
from its assistant."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from relaygraph.errors import BadRequest, InvalidInput
from relaygraph_gateway.render import matches

BOTH_GIVEN = (
    "Cannot specify both configurable and context. Prefer setting context alone. Context was "
    "introduced in LangGraph 0.6.0 and is the long term planned replacement for configurable."
)
ASSISTANT_FIELDS = (
    "assistant_id",
    "graph_id",
    "config",
    "context",
    "metadata",
    "name",
    "created_at",
    "updated_at",
    "version",
    "description",
)
VERSION_FIELDS = (
    "assistant_id",
    "version",
    "graph_id",
    "config",
    "context",
    "metadata",
    "created_at",
    "name",
    "description",
)


def canonical_id(assistant_id: str) -> str:
    """An assistant id as the reference stores it (lower case, hyphens)."""
    try:
        return str(uuid.UUID(assistant_id))
    except ValueError:
        raise InvalidInput("Invalid assistant ID: must be a UUID") from None


def mirrored(
    config: dict[str, Any], context: dict[str, Any] | None
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """``config["configurable"]`` and ``context`` are one thing under two names:
    whichever is given fills the other; both at once is refused."""
    configurable = config.get("configurable")
    if configurable and context:
        raise BadRequest(BOTH_GIVEN)
    if configurable:
        return config, dict(configurable)
    if context:
        return {**config, "configurable": dict(context)}, context
    return config, context


def version_of(doc: dict[str, Any]) -> dict[str, Any]:
    """The version record of an assistant as it is now."""
    return {key: doc["updated_at" if key == "created_at" else key] for key in VERSION_FIELDS}


def patched(
    current: dict[str, Any], changes: dict[str, Any], version: int, now: str
) -> dict[str, Any]:
    """The next version: ``config`` and ``context`` replaced when given,
    ``metadata`` merged one level deep, the rest kept."""
    config, context = mirrored(changes.get("config") or {}, changes.get("context"))
    return {
        **current,
        "graph_id": changes.get("graph_id") or current["graph_id"],
        "config": config or current["config"],
        "context": context if context is not None else current["context"],
        "metadata": {**current["metadata"], **(changes.get("metadata") or {})},
        "name": changes["name"] if changes.get("name") is not None else current["name"],
        "description": changes["description"]
        if changes.get("description") is not None
        else current["description"],
        "version": version,
        "updated_at": now,
    }


def restored(current: dict[str, Any], old: dict[str, Any], now: str) -> dict[str, Any]:
    """``set_latest``: the assistant takes an older version's config, metadata,
    name and description (its graph and context stay, as the reference does)."""
    return {
        **current,
        "config": old["config"],
        "metadata": old["metadata"],
        "name": old["name"],
        "description": old["description"],
        "version": old["version"],
        "updated_at": now,
    }


def selected(
    found: list[dict[str, Any]],
    *,
    graph_id: str | None,
    name: str | None,
    metadata: dict[str, Any] | None,
) -> list[dict[str, Any]]:
    """Search filters: graph id exact, name a case-insensitive substring,
    metadata contained."""
    needle = name.lower() if name else None
    return [
        a
        for a in found
        if (graph_id is None or a["graph_id"] == graph_id)
        and (needle is None or needle in (a.get("name") or "").lower())
        and matches(a["metadata"], metadata)
    ]


def ordered(
    found: list[dict[str, Any]], sort_by: str | None, sort_order: str | None
) -> list[dict[str, Any]]:
    """Newest first without ``sort_by``; names and graph ids sort ignoring case."""
    if sort_by is None:
        return sorted(found, key=lambda a: a["created_at"], reverse=True)

    def key(a: dict[str, Any]) -> Any:
        value = a.get(sort_by)
        return (
            value.lower() if sort_by in ("name", "graph_id") and isinstance(value, str) else value
        )

    return sorted(found, key=key, reverse=sort_order != "asc")


def only(doc: dict[str, Any], fields: Sequence[str] | None) -> dict[str, Any]:
    """``select``: the chosen fields, in the assistant's own order."""
    if not fields:
        return doc
    return {key: value for key, value in doc.items() if key in fields}


def for_run(
    assistant: dict[str, Any],
    config: dict[str, Any] | None,
    context: dict[str, Any] | None,
    metadata: dict[str, Any] | None,
    thread_metadata: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A run's (config, context, metadata) given its assistant, merged as the
    reference merges them: top-level keys of the run's config win over the
    assistant's, ``configurable`` and ``context`` are merged key by key (the
    run's win), metadata is the assistant's, then the thread's, then the run
    config's, then the run's, and names the assistant."""
    run_config = dict(config or {})
    run_configurable = dict(run_config.get("configurable") or {})
    if run_configurable and context:
        raise BadRequest(BOTH_GIVEN)
    run_context = dict(context) if context else dict(run_configurable)
    if context:
        run_configurable = dict(context)
    base = assistant["config"]
    merged_metadata = {
        **assistant["metadata"],
        **(thread_metadata or {}),
        **(run_config.get("metadata") or {}),
        **(metadata or {}),
        "assistant_id": assistant["assistant_id"],
    }
    merged_config = {
        **base,
        **run_config,
        "configurable": {**(base.get("configurable") or {}), **run_configurable},
        "metadata": merged_metadata,
    }
    return merged_config, {**assistant["context"], **run_context}, merged_metadata
