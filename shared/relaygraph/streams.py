"""JetStream stream configs that more than one service declares.

The interrupts stream is created by whichever starts first, an executor or a
reviewer, so both build its config here and declare it with
:func:`ensure_stream` (idempotent: same config -> no-op, other config -> update).
"""

from __future__ import annotations

import dataclasses
import logging

from nats.js import JetStreamContext
from nats.js.api import RetentionPolicy, StorageType, StreamConfig, StreamInfo
from nats.js.errors import BadRequestError

from relaygraph.subjects import Subjects

log = logging.getLogger("relaygraph.streams")

INTERRUPTS_MAX_AGE = 7 * 24 * 3600.0
"""Seconds an interrupt event stays replayable for late reviewers."""

INTERRUPTS_DUPLICATE_WINDOW = 120.0
"""Seconds JetStream drops a re-published interrupt with the same ``Nats-Msg-Id``."""


def interrupts_stream_config(
    subjects: Subjects, replicas: int = 1, max_bytes: int = -1
) -> StreamConfig:
    """The public interrupts stream: every interrupt, kept a week, deduped by msg id."""
    return StreamConfig(
        name=subjects.interrupts_stream,
        subjects=[subjects.interrupts_all],
        retention=RetentionPolicy.LIMITS,
        max_age=INTERRUPTS_MAX_AGE,
        max_bytes=max_bytes,
        storage=StorageType.FILE,
        num_replicas=replicas,
        duplicate_window=INTERRUPTS_DUPLICATE_WINDOW,
    )


async def ensure_stream(js: JetStreamContext, config: StreamConfig) -> StreamInfo:
    """Create the stream, or bring an existing one to ``config`` (an older
    relaygraph, a changed setting), except that its replicas are never
    lowered: a service started without ``NATS_REPLICAS`` must not take a
    replicated stream down to one copy."""
    try:
        return await js.add_stream(config)
    except BadRequestError:
        assert config.name is not None
        current = (await js.stream_info(config.name)).config.num_replicas or 1
        if (config.num_replicas or 1) < current:
            log.warning(
                "stream %s has %d replicas; this service asks for %d (NATS_REPLICAS): keeping %d",
                config.name,
                current,
                config.num_replicas,
                current,
            )
            config = dataclasses.replace(config, num_replicas=current)
        return await js.update_stream(config)
