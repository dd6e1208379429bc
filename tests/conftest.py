"""Session fixtures: the whole system, started once, on free ports."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.system import System, running_system


@pytest.fixture(scope="session")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    data = Path(tmp_path_factory.mktemp("system"))
    effects = data / "effects.txt"
    effects.touch()
    with running_system(data, extra_env={"RELAYGRAPH_TEST_EFFECTS": str(effects)}) as sys_:
        yield sys_
