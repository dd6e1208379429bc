"""Rule-based auto-review: matching interrupts are resumed as ``rules``, the
rest wait in the inbox; a bad rules file stops the start with a clear error."""

from __future__ import annotations

import json

import pytest

from relaygraph.contracts import ErrorBody, ResumeRequest
from relaygraph.errors import InvalidInput
from relaygraph.settings import NatsSettings, RedisSettings, ReviewerSettings
from relaygraph_reviewer.app import open_reviewer
from relaygraph_reviewer.rules import lookup, parse_rules

pytestmark = pytest.mark.integration


async def test_matching_interrupt_is_resumed_by_the_rules(
    tmp_path, start_reviewer, publish, event_factory, gateway, eventually
):
    rules = tmp_path / "rules.json"
    rules.write_text(
        json.dumps(
            [
                {"graph_id": "other", "match": {}, "resume": "wrong graph"},
                {
                    "graph_id": "agent",
                    "match": {"action.tool": "search", "action.args.0": "weather"},
                    "resume": {"approved": True},
                },
            ]
        )
    )
    matching = event_factory(values=[{"action": {"tool": "search", "args": ["weather"]}}])
    unmatched = event_factory(values=[{"action": {"tool": "delete_db", "args": []}}])
    await publish(matching)
    await publish(unmatched)
    async with start_reviewer(rules=rules) as reviewer:

        async def settled():
            answered = await reviewer.answered()
            assert [a["thread_id"] for a in answered] == [matching.thread_id]
            pending = await reviewer.pending()
            assert [p["thread_id"] for p in pending] == [unmatched.thread_id]
            return answered[0]

        answered = await eventually(settled)
        assert answered["reviewer"] == "rules"
        assert answered["run_id"] == gateway.run_ids[0]
        assert gateway.requests == [
            (
                reviewer.subjects.resume(matching.thread_id),
                ResumeRequest(
                    resume={"approved": True},
                    reviewer="rules",
                    interrupt_id=matching.interrupts[0].id,
                ),
            )
        ]


async def test_a_rule_refused_by_the_gateway_leaves_the_interrupt_to_people(
    tmp_path, start_reviewer, publish, event_factory, gateway, eventually
):
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps([{"graph_id": "*", "resume": True}]))
    gateway.error = ErrorBody(code="not_found", message="thread not found")
    event = event_factory()
    await publish(event)
    async with start_reviewer(rules=rules) as reviewer:

        async def kept():
            items = await reviewer.pending()
            assert [i["last_error"] for i in items] == [
                {"code": "not_found", "message": "thread not found"}
            ]

        await eventually(kept)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"graph_id": "a"}', "must be a JSON list of rules"),
        ('[{"graph_id": "a", "match": {}}]', "rule #0: needs `resume`"),
        ('[{"resume": 1}, {"graph_id": "a", "match": [], "resume": 1}]', "rule #1: `match`"),
        ('[{"resume": 1, "graphid": "a"}]', "unknown field(s) ['graphid']"),
        ('[{"resume": 1, "match": {"a..b": 1}}]', "is not a dotted path"),
        ('["approve"]', "rule #0: must be an object"),
    ],
)
async def test_bad_rules_file_fails_the_start_clearly(tmp_path, content, message):
    path = tmp_path / "rules.json"
    path.write_text(content)
    settings = ReviewerSettings(rules=str(path))
    # unreachable servers: the rules are checked before any connection
    nats_settings = NatsSettings(url="nats://127.0.0.1:1")
    redis_settings = RedisSettings(url="redis://127.0.0.1:1/0")
    with pytest.raises(InvalidInput) as caught:
        async with open_reviewer(settings, nats_settings, redis_settings):
            pass
    assert message in str(caught.value)
    assert f"REVIEWER_RULES={path}" in str(caught.value)


async def test_missing_rules_file_is_named(tmp_path):
    path = tmp_path / "nowhere.json"
    with pytest.raises(InvalidInput, match="cannot read the rules file"):
        async with open_reviewer(
            ReviewerSettings(rules=str(path)), NatsSettings(), RedisSettings()
        ):
            pass


def test_rule_matching_follows_json_semantics():
    rules = parse_rules(
        [
            {"graph_id": "g", "match": {"ok": True}, "resume": "bool"},
            {"graph_id": "g", "match": {"n": 1}, "resume": "number"},
            {"match": {"items.-1.kind": "last"}, "resume": "any graph"},
        ]
    )
    assert rules.first("g", {"ok": 1}) is None  # true is not 1
    assert rules.first("g", {"ok": True}).resume == "bool"
    assert rules.first("g", {"n": 1.0}).resume == "number"
    assert rules.first("h", {"items": [{"kind": "x"}, {"kind": "last"}]}).resume == "any graph"
    assert rules.first("h", "a string value") is None
    assert lookup({"a": [{"b": None}]}, "a.0.b") is None
