"""One root error. Each error says what to do next: retry, or give up for good.

The HTTP layer maps ``status`` to the LangGraph Server status codes and the NATS
handlers reply ``{"error": {"code", "message"}}`` with ``code``.
"""

from __future__ import annotations


class RelaygraphError(Exception):
    """Root of every relaygraph error."""

    code: str = "internal"
    status: int = 500
    retryable: bool = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(RelaygraphError):
    code = "not_found"
    status = 404


class Conflict(RelaygraphError):
    code = "conflict"
    status = 409


class InvalidInput(RelaygraphError):
    code = "invalid_input"
    status = 422


class BadRequest(RelaygraphError):
    code = "bad_request"
    status = 400


class Unavailable(RelaygraphError):
    """No executor answered in time; the caller may retry."""

    code = "unavailable"
    status = 503
    retryable = True


class GraphUnavailable(RelaygraphError):
    """The graph did not load (its module fails to import, its factory raises):
    nothing can run it until it is fixed and the executors restart."""

    code = "graph_unavailable"
    status = 424


class StaleEpoch(RelaygraphError):
    """A write carried a fencing epoch older than the thread's current one: the
    writer lost its lease and must drop the run."""

    code = "stale_epoch"
    status = 409


ERRORS_BY_CODE: dict[str, type[RelaygraphError]] = {
    cls.code: cls
    for cls in (
        NotFound,
        Conflict,
        InvalidInput,
        BadRequest,
        Unavailable,
        GraphUnavailable,
        StaleEpoch,
    )
}


def from_code(code: str, message: str) -> RelaygraphError:
    """Rebuild an error received as ``{"error": {"code", "message"}}``."""
    return ERRORS_BY_CODE.get(code, RelaygraphError)(message)
