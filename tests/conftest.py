"""Session fixtures: the whole system, started once, on free ports."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.system import System, running_system


@pytest.fixture(scope="session")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    with running_system(Path(tmp_path_factory.mktemp("system"))) as sys_:
        yield sys_
