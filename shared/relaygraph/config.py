"""Reading ``langgraph.json``, the LangGraph CLI's config format.

Only what relaygraph uses: ``graphs`` (id -> ``path/to/file.py:attr`` or
``package.module:attr``), ``dependencies`` (paths put on ``sys.path``) and
``env`` (a dict, or the path of a .env file). Graph code is not imported here:
the gateway reads the config without touching user code.
"""

from __future__ import annotations

import functools
import json
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from relaygraph.errors import InvalidInput
from relaygraph.subjects import is_token
from relaygraph.webhooks import WebhookConfig, read_webhooks

# The namespace LangGraph Server derives a graph's default assistant id from.
ASSISTANT_NAMESPACE = uuid.UUID("6ba7b821-9dad-11d1-80b4-00c04fd430c8")


@functools.lru_cache(maxsize=1024)
def default_assistant_id(graph_id: str) -> str:
    return str(uuid.uuid5(ASSISTANT_NAMESPACE, graph_id))


@dataclass(frozen=True)
class GraphSpec:
    graph_id: str
    target: str
    """``./path/file.py:attr`` or ``package.module:attr``, as written in the config."""
    description: str | None = None
    """From the ``{"path": ..., "description": ...}`` form: the default assistant's."""

    @property
    def assistant_id(self) -> str:
        return default_assistant_id(self.graph_id)


@dataclass(frozen=True)
class StoreIndex:
    """``store.index``: embed items for semantic search."""

    embed: str
    """``./file.py:function`` (relative to langgraph.json) or ``module:function``."""
    dims: int | None = None
    fields: tuple[str, ...] = ("$",)


@dataclass(frozen=True)
class StoreConfig:
    """The ``store`` section of langgraph.json."""

    index: StoreIndex | None = None
    default_ttl: float | None = None
    """Minutes an item lives after it is written (or read, with refresh_on_read)."""
    refresh_on_read: bool = True
    sweep_interval_minutes: float = 1.0


CORS_KEYS = (
    "allow_origins",
    "allow_methods",
    "allow_headers",
    "allow_credentials",
    "allow_origin_regex",
    "expose_headers",
    "max_age",
)
ROUTE_GROUPS = ("assistants", "threads", "runs", "store", "meta")


@dataclass(frozen=True)
class HttpConfig:
    """The ``http`` section of langgraph.json (what relaygraph honours of it)."""

    app: str | None = None
    """``./file.py:app`` or ``package.module:app``: a Starlette or FastAPI app
    whose routes are served beside (and before) the API's."""
    cors: dict[str, Any] | None = None
    """Starlette ``CORSMiddleware`` options; ``None``: any origin (the default)."""
    disabled: frozenset[str] = frozenset()
    """Route groups turned off (``disable_assistants``...), of :data:`ROUTE_GROUPS`."""


@dataclass(frozen=True)
class AuthConfig:
    """The ``auth`` section of langgraph.json: a ``langgraph_sdk.Auth`` object."""

    path: str
    """``./auth.py:auth`` (relative to langgraph.json) or ``module:auth``."""
    custom_routes: bool = False
    """``http.enable_custom_route_auth``: the ``http.app`` routes are authenticated too."""


TTL_STRATEGIES = ("delete", "keep_latest")
MAX_TTL_MINUTES = 100 * 365 * 24 * 60


def _minutes(where: Path, name: str, value: Any) -> float | None:
    """A TTL in minutes: positive and at most a century."""
    if value is None:
        return None
    minutes = float(value)
    if not 0 < minutes <= MAX_TTL_MINUTES:
        raise InvalidInput(f"{where}: `{name}` must be between 0 and {MAX_TTL_MINUTES} minutes")
    return minutes


@dataclass(frozen=True)
class ThreadTTL:
    """``checkpointer.ttl`` of langgraph.json: what happens to idle threads."""

    strategy: str = "delete"
    """``delete``: the thread, its runs and checkpoints go; ``keep_latest``:
    only checkpoints older than each namespace's latest go."""
    default_ttl: float | None = None
    """Minutes a thread without a TTL of its own lives after its last update."""
    sweep_interval_minutes: float = 5.0
    sweep_limit: int = 1000
    """Threads looked at per sweep, at most."""


@dataclass(frozen=True)
class Config:
    path: Path
    graphs: dict[str, GraphSpec]
    dependencies: list[Path] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    store: StoreConfig = field(default_factory=StoreConfig)
    thread_ttl: ThreadTTL = field(default_factory=ThreadTTL)
    http: HttpConfig = field(default_factory=HttpConfig)
    webhooks: WebhookConfig = field(default_factory=WebhookConfig)
    auth: AuthConfig | None = None

    @property
    def root(self) -> Path:
        return self.path.parent


def _read_env(root: Path, env: Any) -> dict[str, str]:
    if env is None:
        return {}
    if isinstance(env, dict):
        return {str(k): str(v) for k, v in env.items()}
    if isinstance(env, str):
        env_path = (root / env).resolve()
        if not env_path.exists():
            raise InvalidInput(f"langgraph.json: env file {env_path} does not exist")
        values: dict[str, str] = {}
        for raw in env_path.read_text().splitlines():
            line = raw.strip()
            if not line or line.startswith("#") or "=" not in line:
                continue
            key, _, value = line.removeprefix("export ").partition("=")
            values[key.strip()] = value.strip().strip("'\"")
        return values
    raise InvalidInput("langgraph.json: `env` must be an object or the path of a .env file")


def _read_store(where: Path, raw: Any) -> StoreConfig:
    if raw is None:
        return StoreConfig()
    if not isinstance(raw, dict):
        raise InvalidInput(f"{where}: `store` must be an object")
    index, ttl = raw.get("index"), raw.get("ttl") or {}
    if not isinstance(ttl, dict):
        raise InvalidInput(f"{where}: `store.ttl` must be an object")
    parsed_index = None
    if index is not None:
        if not isinstance(index, dict) or not isinstance(index.get("embed"), str):
            raise InvalidInput(f"{where}: `store.index` needs `embed` ('./file.py:function')")
        fields = index.get("fields") or ["$"]
        if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
            raise InvalidInput(f"{where}: `store.index.fields` must be a list of paths")
        dims = index.get("dims")
        parsed_index = StoreIndex(index["embed"], int(dims) if dims else None, tuple(fields))
    try:
        return StoreConfig(
            index=parsed_index,
            default_ttl=_minutes(where, "store.ttl.default_ttl", ttl.get("default_ttl")),
            refresh_on_read=bool(ttl.get("refresh_on_read", True)),
            sweep_interval_minutes=max(0.01, float(ttl.get("sweep_interval_minutes") or 1.0)),
        )
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{where}: `store.ttl`: {exc}") from exc


def _read_thread_ttl(where: Path, raw: Any) -> ThreadTTL:
    ttl = (raw or {}).get("ttl") if isinstance(raw, dict) else None
    if raw is not None and not isinstance(raw, dict):
        raise InvalidInput(f"{where}: `checkpointer` must be an object")
    if ttl is None:
        return ThreadTTL()
    if not isinstance(ttl, dict):
        raise InvalidInput(f"{where}: `checkpointer.ttl` must be an object")
    strategy = ttl.get("strategy", "delete")
    if strategy not in TTL_STRATEGIES:
        raise InvalidInput(
            f"{where}: `checkpointer.ttl.strategy` {strategy!r} must be one of {TTL_STRATEGIES}"
        )
    try:
        return ThreadTTL(
            strategy=strategy,
            default_ttl=_minutes(where, "checkpointer.ttl.default_ttl", ttl.get("default_ttl")),
            sweep_interval_minutes=max(0.01, float(ttl.get("sweep_interval_minutes") or 5.0)),
            sweep_limit=int(ttl.get("sweep_limit") or 1000),
        )
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{where}: `checkpointer.ttl`: {exc}") from exc


def _read_http(where: Path, raw: Any) -> HttpConfig:
    if raw is None:
        return HttpConfig()
    if not isinstance(raw, dict):
        raise InvalidInput(f"{where}: `http` must be an object")
    app, cors = raw.get("app"), raw.get("cors")
    if app is not None and (not isinstance(app, str) or ":" not in app):
        raise InvalidInput(f"{where}: `http.app` must be './file.py:app' or 'module:app'")
    if cors is not None:
        if not isinstance(cors, dict):
            raise InvalidInput(f"{where}: `http.cors` must be an object")
        cors = {k: v for k, v in cors.items() if k in CORS_KEYS}
    disabled = frozenset(g for g in ROUTE_GROUPS if raw.get(f"disable_{g}") is True)
    return HttpConfig(app=app, cors=cors, disabled=disabled)


def _read_auth(where: Path, raw: Any, http: Any) -> AuthConfig | None:
    if raw is None:
        return None
    path = raw.get("path") if isinstance(raw, dict) else None
    if not isinstance(path, str) or ":" not in path:
        raise InvalidInput(f"{where}: `auth.path` must be './auth.py:auth' or 'module:auth'")
    custom = isinstance(http, dict) and http.get("enable_custom_route_auth") is True
    return AuthConfig(path, custom_routes=custom)


def load_config(path: str | Path = "langgraph.json") -> Config:
    """Read and check a ``langgraph.json``; errors name the file and the field."""
    cfg_path = Path(path).resolve()
    if not cfg_path.exists():
        raise InvalidInput(f"{cfg_path} not found: pass --config PATH or run in its directory")
    try:
        raw = json.loads(cfg_path.read_text())
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{cfg_path}: not valid JSON ({exc})") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("graphs"), dict) or not raw["graphs"]:
        raise InvalidInput(f"{cfg_path}: needs a non-empty object `graphs`")
    graphs: dict[str, GraphSpec] = {}
    for graph_id, target in raw["graphs"].items():
        description = None
        if isinstance(target, dict):  # {"path": "...", "description": ...}
            description = target.get("description")
            target = target.get("path")
        if not is_token(graph_id):
            raise InvalidInput(
                f"{cfg_path}: graph id {graph_id!r} may hold only letters, digits, '_' and '-'"
            )
        if not isinstance(target, str) or ":" not in target:
            raise InvalidInput(f"{cfg_path}: graph {graph_id!r} must be 'path/to/file.py:variable'")
        graphs[graph_id] = GraphSpec(
            graph_id, target, description if isinstance(description, str) else None
        )
    root = cfg_path.parent
    deps = [(root / d).resolve() for d in raw.get("dependencies", []) if isinstance(d, str)]
    return Config(
        cfg_path,
        graphs,
        deps,
        _read_env(root, raw.get("env")),
        _read_store(cfg_path, raw.get("store")),
        _read_thread_ttl(cfg_path, raw.get("checkpointer")),
        _read_http(cfg_path, raw.get("http")),
        read_webhooks(cfg_path, raw.get("webhooks"), raw.get("http")),
        _read_auth(cfg_path, raw.get("auth"), raw.get("http")),
    )


def apply_config_env(config_path: str | Path | None) -> Config | None:
    """Put the ``env`` of a ``langgraph.json`` into ``os.environ`` (variables
    already set win), before a service reads its settings, so that settings
    given there (``RELAYGRAPH_*``, ``NATS_*``, ``REDIS_*``) take effect like any
    other variable. ``None``: ``./langgraph.json`` when there is one."""
    path = Path(config_path) if config_path else Path("langgraph.json")
    if not config_path and not path.exists():
        return None
    config = load_config(path)
    for key, value in config.env.items():
        os.environ.setdefault(key, value)
    return config
