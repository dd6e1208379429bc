"""Importing what langgraph.json names: ``./path/file.py:name`` (a file,
relative to langgraph.json) or ``package.module:name`` (on ``sys.path``, with
the config's ``dependencies``).

A file is imported once, however many targets name it, as a module named by
its path relative to langgraph.json, so the types it stores in checkpoints
keep their names from one machine to the next.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

MODULE_PREFIX = "relaygraph_user_graphs"


class TargetError(LookupError):
    """What a target names cannot be found; the message says what is missing."""


def make_importable(paths: list[Path]) -> None:
    """Put ``paths`` (langgraph.json's folder, its ``dependencies``) on
    ``sys.path``, first, once each."""
    for path in map(str, paths):
        if path not in sys.path:
            sys.path.insert(0, path)


def split_target(target: str) -> tuple[str, str]:
    module_part, _, attr = target.rpartition(":")
    if not module_part or not attr:
        raise TargetError(f"{target!r} must be './file.py:name' or 'module:name'")
    return module_part, attr


def _module(module_part: str, root: Path) -> ModuleType:
    if not (module_part.endswith(".py") or "/" in module_part):
        return importlib.import_module(module_part)
    file = (root / module_part).resolve()
    if not file.exists():
        raise TargetError(f"file {file} does not exist")
    relative = os.path.relpath(file.with_suffix(""), root)
    name = f"{MODULE_PREFIX}." + re.sub(r"\W", "_", relative.replace("..", "up"))
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise TargetError(f"cannot import {file}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]  # a later target in the same file reports it too
        raise
    return module


def import_target(target: str, root: Path) -> Any:
    """The object ``target`` names (its module's own errors propagate)."""
    module_part, attr = split_target(target)
    module = _module(module_part, root)
    try:
        return getattr(module, attr)
    except AttributeError:
        raise TargetError(f"{module_part} has no {attr!r}") from None
