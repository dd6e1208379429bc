"""Loading the graphs named in ``langgraph.json`` and binding them to the Redis
checkpointer: the only saver the executor uses.

A graph is a compiled graph, a ``StateGraph`` (compiled here), or a factory, as
LangGraph Server takes them: a function of no argument, of the run's config, of
a ``ServerRuntime`` (by annotation), or of both; sync or async, returning a
graph or a context manager that yields one. A factory is called once at start
(to check it and read its schemas) and again for every run, with that run's
config and context.

One graph that fails to load does not stop the others: its error is logged,
published in the graph catalog (so the gateway's ``/info`` shows it), and each
run of it ends in ``error`` saying why.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import os
import traceback
import typing
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.graph import StateGraph
from langgraph.pregel import Pregel
from langgraph.store.base import BaseStore
from langgraph_sdk.runtime import ServerRuntime, _ExecutionRuntime, _ReadRuntime

import relaygraph
from relaygraph.catalog import GraphEntry, graph_version
from relaygraph.checkpoint import graph_allowlist
from relaygraph.config import Config, GraphSpec
from relaygraph.errors import GraphUnavailable, NotFound
from relaygraph.user_code import TargetError, import_target, make_importable
from relaygraph_executor.attempts import AttemptSaver
from relaygraph_executor.schemas import context_keys, graph_schemas

log = logging.getLogger("relaygraph.executor")

Graph = Pregel[Any, Any, Any, Any]
"""A compiled LangGraph graph, whatever its state, context, input and output."""

FactoryArgs = Callable[[RunnableConfig, Any], dict[str, Any]]


class GraphLoadError(Exception):
    """A graph of langgraph.json cannot be served; the message says why."""


def prepare_environment(config: Config) -> None:
    """Put the config's env into os.environ and its dependencies on sys.path."""
    for key, value in config.env.items():
        os.environ.setdefault(key, value)
    make_importable([config.root, *config.dependencies])


def _import_target(spec: GraphSpec, root: Path) -> Any:
    try:
        return import_target(spec.target, root)
    except TargetError as exc:
        raise GraphLoadError(str(exc)) from None


# -- factories ------------------------------------------------------------------

_HINT_NAMES = {"ServerRuntime": ServerRuntime, "RunnableConfig": RunnableConfig}


def _is_runtime(annotation: Any) -> bool:
    if annotation is ServerRuntime:
        return True
    if isinstance(annotation, type):
        return issubclass(annotation, (_ExecutionRuntime, _ReadRuntime))
    origin = typing.get_origin(annotation)
    if origin is ServerRuntime:
        return True
    args = typing.get_args(annotation)
    return origin is typing.Annotated and bool(args) and _is_runtime(args[0])


def factory_args(fn: Callable[..., Any]) -> FactoryArgs:
    """How to call a graph factory, from its signature (LangGraph Server's
    four forms): ``()``, ``(config)``, ``(runtime: ServerRuntime)``, or both by
    keyword. Anything else is a :class:`GraphLoadError`."""
    params = list(inspect.signature(fn).parameters.values())
    try:
        hints = typing.get_type_hints(fn, localns=_HINT_NAMES)
    except Exception:
        hints = {}
    runtime = [p.name for p in params if _is_runtime(hints.get(p.name, p.annotation))]
    names = [p.name for p in params]
    if not params:
        return lambda config, rt: {}
    if len(params) == 1:
        only = names[0]
        return (lambda config, rt: {only: rt}) if runtime else (lambda config, rt: {only: config})
    if len(params) == 2 and len(runtime) == 1:
        rt_name = runtime[0]
        cfg_name = next(n for n in names if n != rt_name)
        return lambda config, rt: {rt_name: rt, cfg_name: config}
    raise GraphLoadError(
        f"graph factory {getattr(fn, '__name__', fn)}{inspect.signature(fn)} must take no "
        "argument, a config, a `runtime: ServerRuntime`, or one of each"
    )


@contextlib.asynccontextmanager
async def _entered(value: Any) -> AsyncIterator[Any]:
    """A factory's result: awaited, and entered when it is a context manager."""
    if inspect.isawaitable(value):
        value = await value
    if hasattr(value, "__aenter__"):
        async with value as inner:
            yield inner
    elif hasattr(value, "__enter__") and not isinstance(value, (Pregel, StateGraph)):
        with value as inner:
            yield inner
    else:
        yield value


def _compiled(obj: Any) -> Graph:
    if isinstance(obj, StateGraph):
        obj = obj.compile()
    if not isinstance(obj, Pregel):
        raise GraphLoadError(f"{type(obj).__name__} is not a LangGraph graph")
    return obj


# -- the registry ---------------------------------------------------------------


@dataclass
class LoadedGraph:
    """One graph of the config, as loaded (or not) at start."""

    graph_id: str
    graph: Graph | None = None
    """Built at start: answers state reads, schemas and drawings, and runs
    every run unless the graph is a factory."""
    factory: Callable[..., Any] | None = None
    factory_args: FactoryArgs | None = None
    saver: AttemptSaver | None = None
    schemas: dict[str, Any] | None = None
    context_keys: frozenset[str] | None = None
    error: str | None = None

    def entry(self, executor_id: str, now: float) -> GraphEntry:
        nodes = sorted(self.graph.nodes) if self.graph is not None else []
        return GraphEntry(
            graph_id=self.graph_id,
            version=graph_version(self.schemas, nodes, self.error),
            schemas=self.schemas,
            nodes=nodes,
            error=self.error,
            executor_id=executor_id,
            published_at=now,
        )


class GraphRegistry:
    """Every graph of the config, compiled with the shared checkpointer."""

    def __init__(self, config: Config, checkpointer: AttemptSaver, store: BaseStore) -> None:
        self.config = config
        self.checkpointer = checkpointer
        self.store = store
        self.loaded: dict[str, LoadedGraph] = {}

    @property
    def graphs(self) -> dict[str, Graph]:
        """The graphs that loaded."""
        return {gid: g.graph for gid, g in self.loaded.items() if g.graph is not None}

    @property
    def errors(self) -> dict[str, str]:
        return {gid: g.error for gid, g in self.loaded.items() if g.error is not None}

    async def load(self) -> None:
        prepare_environment(self.config)
        for graph_id, spec in self.config.graphs.items():
            try:
                self.loaded[graph_id] = await self._load(graph_id, spec)
            except Exception as exc:
                detail = exc.args[0] if isinstance(exc, GraphLoadError) else _describe(exc)
                error = f"graph {graph_id!r} ({spec.target}) failed to load: {detail}"
                # The user's code raised: its traceback says where. A GraphLoadError
                # is our own check (no such file or name, a signature we cannot
                # call, not a graph): its message is all there is, the traceback
                # would show only this module.
                log.error("%s", error, exc_info=not isinstance(exc, GraphLoadError))
                self.loaded[graph_id] = LoadedGraph(graph_id, error=error)

    async def _load(self, graph_id: str, spec: GraphSpec) -> LoadedGraph:
        obj = _import_target(spec, self.config.root)
        loaded = LoadedGraph(graph_id)
        if callable(obj) and not isinstance(obj, (Pregel, StateGraph)):
            loaded.factory, loaded.factory_args = obj, factory_args(obj)
            runtime: _ReadRuntime[Any] = _ReadRuntime(
                access_context="assistants.read", store=self.store
            )
            made = obj(**loaded.factory_args({"configurable": {}}, runtime))
            async with _entered(made) as value:
                graph = _compiled(value)
        else:
            graph = _compiled(obj)
        # The state's own types (pydantic models, dataclasses, enums) may be
        # stored; any other type in a checkpoint is refused when read.
        allowed = graph_allowlist(graph)
        loaded.saver = self.checkpointer.with_allowlist(allowed) if allowed else self.checkpointer
        loaded.graph = graph.copy(update={"checkpointer": loaded.saver, "store": self.store})
        loaded.schemas = graph_schemas(graph_id, loaded.graph)
        loaded.context_keys = context_keys(loaded.schemas)
        return loaded

    def entries(self, executor_id: str, now: float) -> list[GraphEntry]:
        return [g.entry(executor_id, now) for g in self.loaded.values()]

    def loaded_graph(self, graph_id: str) -> LoadedGraph:
        try:
            loaded = self.loaded[graph_id]
        except KeyError:
            raise NotFound(f"Graph {graph_id!r} is not served by this executor") from None
        if loaded.error is not None:
            raise GraphUnavailable(loaded.error)
        return loaded

    def get(self, graph_id: str) -> Graph:
        """The graph built at start (state reads, schemas, drawings)."""
        graph = self.loaded_graph(graph_id).graph
        assert graph is not None
        return graph

    @contextlib.asynccontextmanager
    async def for_run(
        self, graph_id: str, config: RunnableConfig, context: Any
    ) -> AsyncIterator[Graph]:
        """The graph that steps one run: a factory is called with the run's
        config and context (and what it yields is closed after the run)."""
        loaded = self.loaded_graph(graph_id)
        if loaded.factory is None or loaded.factory_args is None:
            assert loaded.graph is not None
            yield loaded.graph
            return
        runtime = _ExecutionRuntime(
            access_context="threads.create_run", store=self.store, context=context
        )
        made = loaded.factory(**loaded.factory_args(config, runtime))
        async with _entered(made) as value:
            yield _compiled(value).copy(update={"checkpointer": loaded.saver, "store": self.store})


def _describe(exc: BaseException) -> str:
    """The exception and where in the user's code it was raised."""
    ours = (str(Path(__file__).parent), str(Path(relaygraph.__file__).parent))
    frames = traceback.extract_tb(exc.__traceback__)
    user = [
        f for f in frames if "site-packages" not in f.filename and not f.filename.startswith(ours)
    ]
    where = f" (at {Path(user[-1].filename).name}:{user[-1].lineno})" if user else ""
    return f"{type(exc).__name__}: {exc}{where}"
