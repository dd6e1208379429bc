"""The official LangGraph JS SDK (@langchain/langgraph-sdk, pinned in
tests/js/package-lock.json) runs the seeds' JS flows against relaygraph, a
stream in ``messages`` mode and a cron."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.system import System

pytestmark = pytest.mark.e2e
JS = Path(__file__).resolve().parents[1] / "js"


@pytest.fixture(scope="module")
def node_modules() -> Path:
    if shutil.which("node") is None or shutil.which("npm") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("node and npm are needed for the JS SDK test")
        pytest.skip("node/npm not installed")
    if not (JS / "node_modules" / "@langchain" / "langgraph-sdk").is_dir():
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"],
            cwd=JS,
            check=True,
            capture_output=True,
            timeout=300,
        )
    return JS / "node_modules"


def test_js_sdk_hitl_flows(system: System, node_modules: Path) -> None:
    done = subprocess.run(
        ["node", "hitl.mjs"],
        cwd=JS,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "RELAYGRAPH_URL": system.url},
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    [intr] = out["interrupt"]
    assert intr["value"] == {"text_to_revise": "original text"}
    assert out["resumed"] == {"some_text": "Edited text"}
    assert out["events"] == [
        ["metadata", None],
        ["updates", ["call_llm"]],
        ["updates", ["__interrupt__"]],
        ["metadata", None],
        ["updates", ["human_review_node"]],
        ["updates", ["run_tool"]],
        ["updates", ["call_llm"]],
    ]
    assert out["state"] == "According to the search, it's sunny in San Francisco right now!"
    assert out["chat"] == [
        ["metadata", None],
        ["messages/metadata", None],
        *[
            ["messages/partial", text]
            for text in ["hello", "hello ", "hello there", "hello there ", "hello there friend"]
        ],
    ]
    assert out["cron"]["listed"] == [out["cron"]["id"]]
    assert out["cron"]["firedWith"] == "js"
