"""The README's NATS reviewer example runs as written (URLs of the test system
substituted), and prints what the README shows."""

from __future__ import annotations

import pytest

from tests.e2e.readme_harness import README, PythonSession, parse
from tests.e2e.test_readme import _check
from tests.system import System

pytestmark = pytest.mark.e2e
SECTION = "NATS contracts (for reviewer services)"


async def test_readme_nats_reviewer_example(system: System) -> None:
    examples = parse(README.read_text(), section=SECTION)
    blocks = [b for e in examples for b in e.of("python")]
    assert blocks and all(b.expected for b in blocks), f"README '## {SECTION}' lost its example"
    session = PythonSession(system.url, nats_url=system.nats.url)
    try:
        for block in blocks:
            _check(block, await session.run(block))
    finally:
        await session.close()
