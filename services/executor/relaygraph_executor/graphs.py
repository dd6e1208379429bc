"""Loading the graphs named in ``langgraph.json`` and binding them to the Redis
checkpointer: the only saver the executor uses."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import re
import sys
from pathlib import Path
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import StateGraph
from langgraph.pregel import Pregel

from relaygraph.checkpoint import graph_allowlist
from relaygraph.config import Config, GraphSpec
from relaygraph.errors import InvalidInput, NotFound


def prepare_environment(config: Config) -> None:
    """Put the config's env into os.environ and its dependencies on sys.path."""
    for key, value in config.env.items():
        os.environ.setdefault(key, value)
    for path in [config.root, *config.dependencies]:
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))


def _import_target(spec: GraphSpec, root: Path) -> Any:
    module_part, _, attr = spec.target.rpartition(":")
    if module_part.endswith(".py") or "/" in module_part:
        file = (root / module_part).resolve()
        if not file.exists():
            raise InvalidInput(f"graph {spec.graph_id!r}: file {file} does not exist")
        # One module per file, however many graphs it holds; named by its path
        # relative to langgraph.json, so the types it stores in checkpoints keep
        # their names from one machine to the next.
        relative = os.path.relpath(file.with_suffix(""), root)
        name = "relaygraph_user_graphs." + re.sub(r"\W", "_", relative.replace("..", "up"))
        if name in sys.modules:
            module = sys.modules[name]
        else:
            mod_spec = importlib.util.spec_from_file_location(name, file)
            if mod_spec is None or mod_spec.loader is None:
                raise InvalidInput(f"graph {spec.graph_id!r}: cannot import {file}")
            module = importlib.util.module_from_spec(mod_spec)
            sys.modules[name] = module
            mod_spec.loader.exec_module(module)
    else:
        module = importlib.import_module(module_part)
    try:
        return getattr(module, attr)
    except AttributeError as exc:
        raise InvalidInput(f"graph {spec.graph_id!r}: {module_part} has no {attr!r}") from exc


async def _resolve(obj: Any, checkpointer: BaseCheckpointSaver[Any], graph_id: str) -> Pregel:
    if isinstance(obj, StateGraph):
        obj = obj.compile()
    if isinstance(obj, Pregel):
        # The state's own types (pydantic models, dataclasses, enums) may be
        # stored; any other type in a checkpoint is refused when read.
        allowed = graph_allowlist(obj)
        saver = checkpointer.with_allowlist(allowed) if allowed else checkpointer
        return obj.copy(update={"checkpointer": saver})
    if callable(obj):  # a graph factory: called once, with no config
        params = inspect.signature(obj).parameters
        made = obj({"configurable": {}}) if params else obj()
        if inspect.isawaitable(made):
            made = await made
        return await _resolve(made, checkpointer, graph_id)
    raise InvalidInput(f"graph {graph_id!r}: {type(obj).__name__} is not a LangGraph graph")


class GraphRegistry:
    """Every graph of the config, compiled with the shared checkpointer."""

    def __init__(self, config: Config, checkpointer: BaseCheckpointSaver[Any]) -> None:
        self.config = config
        self.checkpointer = checkpointer
        self.graphs: dict[str, Pregel] = {}

    async def load(self) -> None:
        prepare_environment(self.config)
        for graph_id, spec in self.config.graphs.items():
            self.graphs[graph_id] = await _resolve(
                _import_target(spec, self.config.root), self.checkpointer, graph_id
            )

    def get(self, graph_id: str) -> Pregel:
        try:
            return self.graphs[graph_id]
        except KeyError:
            raise NotFound(f"Graph {graph_id!r} is not served by this executor") from None
