"""docs/architecture.md says what the runs package does: a row per transition
script with the keys that script declares, and every run status a state of
the diagram."""

from __future__ import annotations

import re
from pathlib import Path

from relaygraph.runs import RunStatus, _scripts, _thread_scripts

DOC = (Path(__file__).resolve().parents[2] / "docs" / "architecture.md").read_text()
ROW = re.compile(r"^\| (\w+) \| [^|]+ \| `Runs\.(\w+)` \| ([^|]+) \|$", re.M)


def test_each_script_has_its_row_with_its_keys() -> None:
    rows = {m[1]: (m[2], m[3]) for m in ROW.finditer(DOC)}
    scripts = (*_scripts.ALL, *_thread_scripts.ALL)
    assert set(rows) == {s.name for s in scripts}
    for lua in scripts:
        method, keys = rows[lua.name]
        assert method == lua.name
        named = re.match(r"([A-Z]+(?:, [A-Z]+)*)", keys)
        assert named is not None and tuple(named[1].split(", ")) == lua.keys, lua.name


def test_every_status_is_a_state_of_the_diagram() -> None:
    diagram = DOC.split("```mermaid", 1)[1].split("```", 1)[0]
    states = set(re.findall(r"^\s*(\w+) -->", diagram, re.M))
    ended = {s.value for s in RunStatus if s.ended}
    assert ended <= {s for s in states if re.search(rf"{s} --> \[\*\]", diagram)}
    assert {"queued", "delayed", "dispatched", "running"} <= states
