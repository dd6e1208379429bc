"""Settings, one pydantic-settings class per resource, read from the environment.

Each field's description is what the README's settings table says.
"""

from __future__ import annotations

import socket
import uuid
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from relaygraph.keys import Keys
    from relaygraph.redis_client import RedisClient


class NatsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NATS_", extra="ignore")

    url: str = Field("nats://127.0.0.1:4222", description="NATS server URL(s), comma separated.")
    user: str | None = Field(None, description="NATS user name (with NATS_PASSWORD).")
    password: str | None = Field(None, description="NATS password.")
    token: str | None = Field(None, description="NATS auth token.")
    creds: str | None = Field(None, description="Path to a NATS .creds file (JWT + NKey).")
    tls_ca: str | None = Field(
        None, description="CA bundle to verify the NATS server (enables TLS)."
    )
    tls_cert: str | None = Field(None, description="Client certificate for mutual TLS.")
    tls_key: str | None = Field(None, description="Client key for mutual TLS.")
    prefix: str = Field("relaygraph", description="Prefix of every subject and stream name.")
    replicas: int = Field(1, description="JetStream replicas for the streams relaygraph creates.")
    events_max_age: float = Field(
        3600.0, description="Seconds run events are kept for join/stream replays."
    )
    stream_max_bytes: int = Field(
        256 << 20,
        description="Bytes each JetStream stream may hold; a full run queue refuses new "
        "runs, the others drop their oldest messages.",
    )


class RedisSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REDIS_", extra="ignore")

    url: str = Field(
        "redis://127.0.0.1:6379/0",
        description="Redis or Valkey URL (rediss:// for TLS, user:password@ for ACL auth).",
    )
    key_prefix: str = Field("rg", description="Prefix of every Redis key relaygraph writes.")
    max_connections: int = Field(
        200,
        description="Connections per process; a request waits for a free one rather than failing.",
    )

    cluster: Literal["auto", "yes", "no"] = Field(
        "auto",
        description="Whether REDIS_URL names a node of a Redis Cluster: `auto` asks the server "
        "at start (`INFO cluster`; unreachable then: one server).",
    )
    retry_seconds: float = Field(
        15.0,
        gt=0,
        description="On Redis Cluster: about how long a command is retried through a failover "
        "(MOVED, ASK, TRYAGAIN, CLUSTERDOWN, a lost node) before its error is reported.",
    )
    index_shards: int = Field(
        16,
        ge=1,
        le=1024,
        description="How many keys each index that spans threads (leases, the thread list, "
        "expiries, Store namespaces) is split into, to spread them over a cluster's masters. "
        "Fixed once records exist: every service must use the same number.",
    )

    def connect(self, name: str | None = None) -> AbstractAsyncContextManager[RedisClient]:
        """A client of one server or of a cluster (``relaygraph.redis_client``),
        closed on exit; ``name``: its connections' ``CLIENT SETNAME``."""
        from relaygraph.redis_client import connect

        return connect(self, name)

    def keys(self) -> Keys:
        from relaygraph.keys import Keys

        return Keys(self.key_prefix, self.index_shards)

    async def check(self, client: Any) -> None:
        """At a service's start: credentials Redis refuses are a configuration
        error, raised at once; Redis not reachable yet is only logged (requests
        get 503 until it is, as during any Redis outage)."""
        import logging

        from redis.exceptions import AuthenticationError, ConnectionError, ResponseError

        from relaygraph.errors import InvalidInput

        try:
            await client.ping()
        except AuthenticationError as exc:
            raise InvalidInput(f"Redis refused the credentials in REDIS_URL: {exc}") from exc
        except ResponseError as exc:
            if "NOAUTH" in str(exc) or "WRONGPASS" in str(exc) or "NOPERM" in str(exc):
                raise InvalidInput(f"Redis refused the credentials in REDIS_URL: {exc}") from exc
            raise
        except (ConnectionError, OSError) as exc:
            logging.getLogger("relaygraph.redis").warning(
                "Redis is not reachable yet (%s); requests that need it answer 503 until it is",
                exc,
            )


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RELAYGRAPH_", extra="ignore")

    host: str = Field("127.0.0.1", description="Address the gateway's HTTP API binds to.")
    port: int = Field(2024, description="Port of the gateway's HTTP API.")
    api_key: str | None = Field(
        None,
        description="When set, every request but /ok must carry it as `x-api-key` "
        "or `Authorization: Bearer`.",
    )
    query_timeout: float = Field(
        10.0,
        description="Seconds to wait for an executor to answer a state/history query, "
        "including while none is running yet.",
    )
    max_body_bytes: int = Field(
        10 * 1024 * 1024,
        gt=0,
        description="Largest request body the API reads; a larger one is answered 413.",
    )
    rate_limit: str | None = Field(
        None,
        description="Requests one caller may send, such as `100/s`, `600/min` or `5000/h` "
        "(bursts up to that count), counted in Redis across every gateway; over it, 429 with "
        "`Retry-After`. A caller is the authenticated user (custom auth), else the API key, "
        "else the client address. Unset: no limit.",
    )
    cron_interval: float = Field(
        1.0, gt=0, description="Seconds between two looks for crons whose time came."
    )
    cron_fire_grace: float = Field(
        10.0,
        gt=0,
        description="Seconds a gateway may take to record the run of a cron tick it took; "
        "after it, another gateway fires the tick (its run id is fixed, so once).",
    )


class RunSettings(BaseSettings):
    """How runs are leased and retried: the gateway and every executor must agree."""

    model_config = SettingsConfigDict(env_prefix="RELAYGRAPH_", extra="ignore")

    lease_ttl: float = Field(
        10.0,
        description="Seconds a run attempt's lease lasts without renewal; after it, another "
        "executor continues the run from its last checkpoint.",
    )
    dispatch_grace: float = Field(
        30.0,
        description="Seconds a dispatched run may wait for an executor to claim it before it "
        "is dispatched again.",
    )
    owner_timeout: float = Field(
        0.5,
        description="Seconds to wait for a thread's owning executor to take a run (a resume, "
        "or the thread's next queued run) before it goes to the shared queue.",
    )
    max_attempts: int = Field(
        3,
        description="Attempts of one run (executor crashes, lost leases) before it ends in "
        "`error` and goes to the dead-letter subject.",
    )
    run_record_ttl: float = Field(
        7 * 24 * 3600.0,
        description="Seconds a run's record and result are kept after it ends (0: as long "
        "as its thread).",
    )

    def lifecycle(self, redis: Any, keys: Any, trips: Any = None) -> Any:
        """The run transitions (``relaygraph.runs.Runs``) with these settings."""
        from relaygraph.runs import Runs

        return Runs(
            redis,
            keys,
            lease_ttl=self.lease_ttl,
            grace=self.dispatch_grace,
            max_attempts=self.max_attempts,
            owner_timeout=self.owner_timeout,
            record_ttl=self.run_record_ttl,
            trips=trips,
        )


def _default_executor_id() -> str:
    return f"{socket.gethostname().split('.')[0]}-{uuid.uuid4().hex[:8]}".replace(".", "-")


class ExecutorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RELAYGRAPH_", extra="ignore")

    executor_id: str = Field(
        default_factory=_default_executor_id,
        description="This executor's id (owner of the threads it runs); unique per process.",
    )
    max_concurrent_runs: int = Field(
        16, description="Runs one executor steps at once (more wait in the queue)."
    )
    run_timeout: float = Field(
        86400.0,
        gt=0,
        validation_alias=AliasChoices("RELAYGRAPH_RUN_TIMEOUT", "BG_JOB_TIMEOUT_SECS"),
        description="Seconds one attempt of a run may take (LangGraph Server's "
        "BG_JOB_TIMEOUT_SECS is read too); then the run ends `timeout`, its thread `error`.",
    )
    webhook_secret: str | None = Field(
        None,
        description="When set, each webhook POST is signed with it (Standard Webhooks: "
        "`webhook-id`, `webhook-timestamp`, `webhook-signature`).",
    )
    heartbeat_interval: float = Field(
        5.0, description="Seconds between JetStream in-progress acks and liveness refreshes."
    )
    ack_wait: float = Field(
        30.0, description="Seconds JetStream waits for an ack before redelivering a run."
    )
    liveness_ttl: float = Field(
        15.0, description="Seconds an executor counts as alive after its last heartbeat."
    )
    sweep_interval: float = Field(
        1.0, description="Seconds between two looks for runs whose lease ran out."
    )
    checkpoint_write_window: float = Field(
        0.1,
        ge=0,
        description="Seconds a run's checkpoint writes may wait to go to Redis together "
        "(one fenced script, sent at the latest before the run's outcome is recorded); a "
        "crash loses at most that much progress, which the next attempt redoes. 0, or a "
        "run with `durability` `sync`: each write goes at once.",
    )
    drain_grace: float = Field(
        30.0,
        description="On SIGTERM, seconds in-flight runs may take to finish before they are "
        "handed to another executor.",
    )
    metrics_port: int | None = Field(
        None,
        description="When set, the executor serves Prometheus `/metrics` on this port "
        "(each executor on a host needs its own).",
    )
    metrics_host: str = Field(
        "127.0.0.1", description="Address the executor's `/metrics` binds to."
    )


class ReviewerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REVIEWER_", extra="ignore")

    host: str = Field("127.0.0.1", description="Address of the reviewer's web inbox.")
    port: int = Field(2025, description="Port of the reviewer's web inbox.")
    durable: str = Field(
        "relaygraph-reviewer", description="JetStream durable consumer name of this reviewer."
    )
    rules: str | None = Field(
        None, description="Path to a JSON file of auto-review rules (see README)."
    )
    webhook_url: str | None = Field(
        None, description="URL that receives each interrupt as a JSON POST (chat-bot bridge)."
    )
    api_keys: str | None = Field(
        None,
        description="The inbox's people and their keys, `name:key` pairs separated by commas: "
        "each signs in (or sends `x-api-key`) with their own key, and their answers carry "
        "that name.",
    )
    api_url: str | None = Field(
        None,
        description="URL of the gateway's API: each interrupt links to its thread's history, "
        "read from there with the person's credentials (or the API key).",
    )
    resume_authorization: str | None = Field(
        None,
        description="`Authorization` header the reviewer's NATS resumes carry, for a gateway "
        "with custom auth (e.g. `Bearer <token>` of the reviewer's user).",
    )
