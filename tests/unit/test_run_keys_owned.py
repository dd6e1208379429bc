"""Nothing but the runs package touches a run's keys, and no Lua script
builds a key name: the rules ``relaygraph.runs`` and ``relaygraph.lua``
state, held against the code itself (a new module that writes a queue or a
run record on the side fails here, not in a race on a cluster)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CODE = [ROOT / "shared" / "relaygraph", *sorted((ROOT / "services").glob("*/relaygraph_*"))]
RUNS = ROOT / "shared" / "relaygraph" / "runs"

RUN_KEYS = {"run", "thread_queue", "thread_queued", "thread_runs", "thread_resumes", "thread_epoch"}
RUN_KEYS |= {"leases", "leases_shards"}
"""``Keys`` methods naming a run's keys: a run's record, a thread's queue and
its runs, resumes, fencing epoch, and the lease index."""

MIGRATIONS = ROOT / "shared" / "relaygraph" / "layout.py"
"""The one exception: a layout migration rewrites old records in place."""

RUN_FIELDS = ("active_run", "rest_status", "pause_checkpoint", "last_resume", "outbox_run")
"""Fields of a thread's record that a run's transitions decide on."""


def modules() -> list[Path]:
    return [p for base in CODE for p in sorted(base.rglob("*.py"))]


def key_uses(path: Path) -> list[str]:
    """``<something>.keys.<method>(`` / ``keys.<method>(`` calls of a run's keys."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        owner = node.func.value
        named_keys = (isinstance(owner, ast.Name) and owner.id in {"keys", "k"}) or (
            isinstance(owner, ast.Attribute) and owner.attr == "keys"
        )
        if named_keys and node.func.attr in RUN_KEYS:
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} keys.{node.func.attr}")
    return found


def lua_sources(path: Path) -> list[tuple[int, str]]:
    """String constants of a module that are Lua (they call redis)."""
    return [
        (node.lineno, node.value)
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and "redis.call" in node.value
    ]


def test_only_the_runs_package_names_a_runs_keys() -> None:
    outside = [p for p in modules() if RUNS not in p.parents and p != MIGRATIONS]
    uses = [use for p in outside for use in key_uses(p)]
    assert not uses, "run keys used outside relaygraph.runs:\n" + "\n".join(uses)


def test_the_check_sees_the_runs_package_use_them() -> None:
    """The scan is not blind: inside the package it finds each of the keys."""
    inside = {use.rsplit(".", 1)[1] for p in RUNS.rglob("*.py") for use in key_uses(p)}
    assert {"run", "thread_queue", "thread_runs", "thread_resumes"} <= inside


def test_no_script_outside_the_runs_package_writes_a_runs_thread_fields() -> None:
    writes = re.compile(r"'(HSET|HDEL|HSETNX)'[^\n]*'(" + "|".join(RUN_FIELDS) + r")'")
    found = [
        f"{p.relative_to(ROOT)}:{line}"
        for p in modules()
        if RUNS not in p.parents and p != MIGRATIONS
        for line, src in lua_sources(p)
        if writes.search(src)
    ]
    assert not found, found


def test_no_script_builds_a_key_name() -> None:
    """Every ``redis.call`` in every script names its key as a declared KEY
    (``KEYS[i]`` or a name bound to one), never a string made in Lua."""
    made = re.compile(r"redis\.call\('[A-Z]+',\s*('|\"|[a-z_]+\s*\.\.)")
    found = [
        f"{p.relative_to(ROOT)}:{line}: {m.group(0)}"
        for p in modules()
        for line, src in lua_sources(p)
        for m in made.finditer(src)
    ]
    assert not found, "\n".join(found)
