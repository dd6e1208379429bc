"""Fixtures of the end-to-end tests (the session's ``system`` is in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from langgraph_sdk import get_client

from tests.system import System


@pytest.fixture
async def c(system: System) -> AsyncIterator[Any]:
    """The official SDK client on the session's system, closed after the test."""
    async with get_client(url=system.url, timeout=30) as sdk:
        yield sdk
