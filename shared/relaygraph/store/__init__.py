"""The LangGraph Store on plain Redis: what graphs reach as ``get_store()`` /
``runtime.store`` and the gateway serves under ``/store``."""

from langgraph.store.base import TTLConfig

from relaygraph.config import Config
from relaygraph.keys import Keys
from relaygraph.pipelining import RoundTrips
from relaygraph.redis_client import RedisClient
from relaygraph.store.embedding import load_embeddings
from relaygraph.store.redis_store import RedisStore

__all__ = ["RedisStore", "store_for"]


def store_for(
    config: Config, redis: RedisClient, keys: Keys, trips: RoundTrips, *, embed: bool
) -> RedisStore:
    """The store ``langgraph.json`` describes. ``embed``: load the embedding
    function of ``store.index`` (user code: executors do, the gateway does not)."""
    settings = config.store
    ttl: TTLConfig = {
        "refresh_on_read": settings.refresh_on_read,
        "default_ttl": settings.default_ttl,
        "sweep_interval_minutes": int(settings.sweep_interval_minutes) or 1,
    }
    index = settings.index
    return RedisStore(
        redis,
        keys,
        trips=trips,
        ttl=ttl,
        embeddings=load_embeddings(index, config.root) if embed and index is not None else None,
        index_fields=index.fields if index is not None else ("$",),
    )
