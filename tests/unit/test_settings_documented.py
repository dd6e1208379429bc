"""Every setting a service reads is in the README's Settings tables."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic_settings import BaseSettings

from relaygraph.settings import (
    ExecutorSettings,
    GatewaySettings,
    NatsSettings,
    RedisSettings,
    ReviewerSettings,
    RunSettings,
)

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.mark.parametrize(
    "cls",
    [NatsSettings, RedisSettings, GatewaySettings, ExecutorSettings, RunSettings, ReviewerSettings],
)
def test_every_setting_is_documented(cls: type[BaseSettings]) -> None:
    text = README.read_text().split("## Settings", 1)[1]
    prefix = cls.model_config.get("env_prefix", "")
    for name, field in cls.model_fields.items():
        var = f"{prefix}{name}".upper()
        assert f"| `{var}` |" in text, f"{var} ({field.description}) is not in README ## Settings"


ROOT = Path(__file__).resolve().parents[2]
EFFECT = "tests/e2e/test_settings_effect.py"
SECURITY = "tests/integration/test_transport_security.py"
FAILOVER = "tests/chaos/test_failover.py"
OUTAGE = "tests/chaos/test_nats_outage.py"
CLUSTER_FAILOVER = "tests/chaos/test_redis_cluster_failover.py"
REVIEWER = "tests/reviewer"
OBSERVED = "tests/e2e/test_observability.py"
LIMITS = "tests/e2e/test_limits.py"

PROVEN_BY = {
    "NATS_URL": f"{OUTAGE}::test_a_nats_node_killed_under_load_loses_and_repeats_nothing",
    "NATS_USER": f"{SECURITY}::test_nats_user_password_and_token",
    "NATS_PASSWORD": f"{SECURITY}::test_nats_user_password_and_token",
    "NATS_TOKEN": f"{SECURITY}::test_nats_user_password_and_token",
    "NATS_CREDS": f"{SECURITY}::test_nats_creds_file",
    "NATS_TLS_CA": f"{SECURITY}::test_with_tls_settings_a_plaintext_server_never_gets_the_credentials",
    "NATS_TLS_CERT": f"{SECURITY}::test_nats_mutual_tls",
    "NATS_TLS_KEY": f"{SECURITY}::test_nats_mutual_tls",
    "NATS_PREFIX": f"{EFFECT}::test_prefixes_name_every_stream_subject_and_key",
    "NATS_REPLICAS": f"{OUTAGE}::test_streams_keep_their_replicas",
    "NATS_EVENTS_MAX_AGE": f"{EFFECT}::test_prefixes_name_every_stream_subject_and_key",
    "NATS_STREAM_MAX_BYTES": f"{EFFECT}::test_prefixes_name_every_stream_subject_and_key",
    "REDIS_URL": f"{SECURITY}::test_redis_over_tls",
    "REDIS_KEY_PREFIX": f"{EFFECT}::test_prefixes_name_every_stream_subject_and_key",
    "REDIS_MAX_CONNECTIONS": f"{EFFECT}::test_redis_connections_stay_within_the_cap",
    "REDIS_CLUSTER": "tests/integration/test_redis_client.py::test_yes_and_no_decide_without_asking",
    "REDIS_RETRY_SECONDS": f"{CLUSTER_FAILOVER}::test_requests_wait_out_a_master_failover_within_the_retry_budget",
    "REDIS_INDEX_SHARDS": (
        f"{EFFECT}::test_indexes_are_split_into_the_shard_count_and_another_count_is_refused"
    ),
    "RELAYGRAPH_HOST": f"{EFFECT}::test_host_and_port_from_the_environment",
    "RELAYGRAPH_PORT": f"{EFFECT}::test_host_and_port_from_the_environment",
    "RELAYGRAPH_API_KEY": "tests/e2e/test_gateway_auth.py::test_every_route_but_ok_and_docs_wants_the_key",
    "RELAYGRAPH_QUERY_TIMEOUT": f"{EFFECT}::test_state_reads_wait_for_an_executor_up_to_the_query_timeout",
    "RELAYGRAPH_CRON_INTERVAL": "tests/e2e/test_crons.py::test_each_tick_fires_once_across_gateways_killed_mid_tick",
    "RELAYGRAPH_CRON_FIRE_GRACE": "tests/e2e/test_crons.py::test_each_tick_fires_once_across_gateways_killed_mid_tick",
    "RELAYGRAPH_WEBHOOK_SECRET": "tests/e2e/test_webhooks.py::test_finished_runs_are_posted_signed_and_retried",
    "RELAYGRAPH_RUN_TIMEOUT": f"{EFFECT}::test_run_timeout_by_its_own_name_wins_over_langgraph_servers",
    "RELAYGRAPH_LEASE_TTL": f"{FAILOVER}::test_kill_9_mid_run_continues_from_the_last_checkpoint",
    "RELAYGRAPH_DISPATCH_GRACE": f"{EFFECT}::test_dispatch_grace_is_how_long_a_run_may_wait_to_be_claimed",
    # Also the gateway's resumes: ::test_a_frozen_owner_is_waited_for_owner_timeout_then_bypassed
    "RELAYGRAPH_OWNER_TIMEOUT": "tests/e2e/test_ownership.py::test_a_queued_run_handed_on_to_a_frozen_owner_goes_to_the_queue_after_owner_timeout",
    "RELAYGRAPH_RUN_RECORD_TTL": f"{EFFECT}::test_a_finished_run_is_kept_as_long_as_the_setting",
    "RELAYGRAPH_MAX_ATTEMPTS": f"{FAILOVER}::test_a_run_that_crashes_every_executor_ends_in_error_and_dead_letter",
    "RELAYGRAPH_EXECUTOR_ID": "tests/e2e/test_ownership.py::test_resume_after_the_owner_is_killed",
    "RELAYGRAPH_MAX_CONCURRENT_RUNS": f"{EFFECT}::test_one_run_at_a_time_per_executor",
    "RELAYGRAPH_HEARTBEAT_INTERVAL": f"{EFFECT}::test_heartbeats_keep_a_run_longer_than_ack_wait_from_redelivery",
    "RELAYGRAPH_ACK_WAIT": f"{EFFECT}::test_a_changed_ack_wait_updates_the_consumer",
    "RELAYGRAPH_LIVENESS_TTL": f"{EFFECT}::test_liveness_key_lives_as_long_as_the_setting",
    "RELAYGRAPH_SWEEP_INTERVAL": f"{FAILOVER}::test_kill_9_mid_run_continues_from_the_last_checkpoint",
    "RELAYGRAPH_DRAIN_GRACE": f"{FAILOVER}::test_sigterm_drains_and_hands_the_run_over",
    "RELAYGRAPH_CHECKPOINT_WRITE_WINDOW": (
        f"{EFFECT}::test_checkpoints_wait_for_the_write_window_or_the_end_of_the_run"
    ),
    "REVIEWER_HOST": f"{REVIEWER}/test_reviewer_process.py::test_reviewer_process_serves_and_stops_cleanly_on_a_signal",
    "REVIEWER_PORT": f"{REVIEWER}/test_reviewer_process.py::test_reviewer_process_serves_and_stops_cleanly_on_a_signal",
    "REVIEWER_DURABLE": f"{REVIEWER}/test_reviewer_process.py::test_reviewer_process_serves_and_stops_cleanly_on_a_signal",
    "REVIEWER_RULES": f"{REVIEWER}/test_reviewer_rules.py::test_matching_interrupt_is_resumed_by_the_rules",
    "REVIEWER_WEBHOOK_URL": f"{REVIEWER}/test_reviewer_webhook.py::test_each_interrupt_is_posted_to_the_webhook_with_retries",
    "RELAYGRAPH_LOG_LEVEL": f"{EFFECT}::test_debug_log_level",
    "RELAYGRAPH_LOG_FORMAT": f"{OBSERVED}::test_json_log_lines_name_their_run_thread_and_executor",
    "RELAYGRAPH_MAX_BODY_BYTES": f"{LIMITS}::test_a_body_over_the_limit_is_refused_with_413",
    "RELAYGRAPH_RATE_LIMIT": f"{LIMITS}::test_each_caller_has_its_rate_across_gateways",
    "RELAYGRAPH_METRICS_PORT": f"{OBSERVED}::test_metrics_on_the_gateway_the_executor_and_the_reviewer",
    "RELAYGRAPH_METRICS_HOST": f"{OBSERVED}::test_metrics_on_the_gateway_the_executor_and_the_reviewer",
    "REVIEWER_API_KEYS": f"{REVIEWER}/test_reviewer_inbox.py::test_each_persons_own_key_names_their_answers",
    "REVIEWER_API_URL": "tests/e2e/test_interrupt_deadlines.py::test_each_interrupt_shows_what_led_to_it",
    "REVIEWER_RESUME_AUTHORIZATION": (
        "tests/e2e/test_custom_auth.py::test_the_reviewers_rules_resume_as_the_reviewers_user"
    ),
}
"""Each setting in the README's tables, and the test that proves its effect
(not only that it parses): a README claim is a test. Each test sets a value
other than the default and asserts what it changes; the check below can only
see that the test exists and that its file names the setting."""


def test_every_setting_has_a_test_of_its_effect() -> None:
    documented = set()
    for cls in (
        NatsSettings,
        RedisSettings,
        GatewaySettings,
        ExecutorSettings,
        RunSettings,
        ReviewerSettings,
    ):
        prefix = cls.model_config.get("env_prefix", "")
        documented |= {f"{prefix}{name}".upper() for name in cls.model_fields}
    documented |= {"RELAYGRAPH_LOG_LEVEL", "RELAYGRAPH_LOG_FORMAT"}
    assert documented == set(PROVEN_BY), documented ^ set(PROVEN_BY)
    for var, test in PROVEN_BY.items():
        path, _, name = test.partition("::")
        source = (ROOT / path).read_text()
        assert f"def {name}(" in source, f"{var}: {test} does not exist"
        # A test that never sets the variable cannot prove its effect (seen:
        # one "proved" RELAYGRAPH_METRICS_HOST by reading the default). Some
        # set it as a settings field (``webhook_url=``) instead of by its name.
        field = var.split("_", 1)[1].lower()
        assert var in source or f"{field}=" in source, f"{var} is not set in {path}"
