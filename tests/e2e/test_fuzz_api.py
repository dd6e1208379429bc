"""Schemathesis over the gateway's own ``/openapi.json``: no request, however
malformed, gets a 5xx (only the documented 503, NATS or Redis away, may be
one, and both are up here). New routes are fuzzed as soon as they exist.

Requests that name a thread, a run or an assistant use real ones (a thread
paused at an interrupt), so the fuzzing reaches the handlers behind the 404s.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.system import EXAMPLES, System, running_system

pytestmark = pytest.mark.e2e
ST = Path(sys.executable).parent / "st"
HOOKS = Path(__file__).with_name("fuzz_hooks.py")


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    with running_system(tmp_path_factory.mktemp("fuzz"), config=EXAMPLES) as system:
        yield system


def fuzz(system: System, tmp_path: Path, *args: str, config: str = "") -> None:
    (tmp_path / "schemathesis.toml").write_text(config)
    proc = subprocess.run(
        [
            str(ST),
            "--config-file",
            str(tmp_path / "schemathesis.toml"),
            "--no-color",
            "run",
            f"{system.url}/openapi.json",
            "--checks",
            "not_a_server_error",
            "--phases",
            "examples,coverage,fuzzing",
            "--max-examples",
            "15",
            # One worker: with several, CPython 3.11 can fail formatting a
            # traceback in a thread ("AST constructor recursion depth mismatch").
            "--workers",
            "1",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env={**os.environ, "SCHEMATHESIS_HOOKS": str(HOOKS)},
    )
    assert proc.returncode == 0, proc.stdout[-8000:] + proc.stderr[-2000:]
    counts = re.search(r"(\d+) generated, (\d+) passed", proc.stdout)
    assert counts is not None and counts[1] == counts[2], proc.stdout[-4000:]


def paused_thread(system: System) -> tuple[str, str]:
    """A thread paused at an interrupt, and the run that paused it."""
    thread_id = httpx.post(f"{system.url}/threads", json={}).json()["thread_id"]
    paused = httpx.post(
        f"{system.url}/threads/{thread_id}/runs/wait",
        json={"assistant_id": "agent", "input": {"some_text": "fuzz me"}},
        timeout=30,
    )
    return thread_id, paused.headers["content-location"].rsplit("/", 1)[-1]


def real_ids(thread_id: str, run_id: str) -> str:
    return (
        "[parameters]\n"
        f'"path.thread_id" = "{thread_id}"\n'
        f'"path.run_id" = "{run_id}"\n'
        '"path.assistant_id" = "agent"\n'
    )


@pytest.mark.timeout(280)  # ~3000 requests over 57 operations, on two cores
def test_no_server_error_on_real_threads_and_runs(api: System, tmp_path: Path) -> None:
    # Deleting the thread first would leave the rest to 404: deletes go below.
    fuzz(api, tmp_path, "--exclude-method", "DELETE", config=real_ids(*paused_thread(api)))


def test_no_server_error_on_deletes(api: System, tmp_path: Path) -> None:
    fuzz(api, tmp_path, "--include-method", "DELETE", config=real_ids(*paused_thread(api)))


@pytest.mark.parametrize(
    ("path", "detail"),
    [
        ("/history?limit=-460251404&before=x", "query.limit: Input should be greater than"),
        (
            "/runs?limit=2418240377363549912989973813919744&offset=-202",
            "query.limit: Input should be less than or equal to 1000; "
            "query.offset: Input should be greater than or equal to 0",
        ),
        ("/runs?offset=1669809175039794802149294080", "query.offset: Input should be less"),
    ],
)
def test_out_of_range_query_values_are_422(api: System, path: str, detail: str) -> None:
    """What schemathesis found before these were bounded (each was a 500)."""
    thread_id = httpx.post(f"{api.url}/threads", json={}).json()["thread_id"]
    r = httpx.get(f"{api.url}/threads/{thread_id}{path}")
    assert r.status_code == 422
    assert r.json()["detail"].startswith(detail)
