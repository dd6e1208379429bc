"""README.md's walkthrough, run against the real system.

Every ``python`` and ``bash`` block under "## Walkthrough" runs, and what it
prints is compared with the ``# >`` lines the README shows under it. The
conventions are in tests/e2e/readme_harness.py and in the README itself.
"""

from __future__ import annotations

import difflib
import shutil

import pytest

from tests.e2e.readme_harness import (
    LANGS,
    README,
    SETUP,
    BashSession,
    Block,
    Example,
    PythonSession,
    as_output_lines,
    normalize,
    parse,
)
from tests.system import System

pytestmark = pytest.mark.e2e

EXAMPLES = parse(README.read_text()) if README.exists() else []

# The seeds' flows the walkthrough covers; dropping one is a failure, not a skip.
FLOWS = {
    "edit-text-interrupt-and-resume",
    "review-tool-calls-continue-update-feedback",
    "static-breakpoints-at-compile-time-and-at-run-time",
    "wait-for-user-input-update-state-as-a-node",
    "two-interrupts-at-once-resume-with-a-map",
    "stateless-runs-and-runs-in-the-background",
}

# Only for the command line tools the curl blocks use: they must be installed.
TOOLS = ("curl", "jq")


def _setup() -> Example:
    found = [e for e in EXAMPLES if e.title == SETUP]
    assert len(found) == 1, f"README.md needs exactly one '### {SETUP}' under '## Walkthrough'"
    return found[0]


def test_walkthrough_covers_the_seed_flows() -> None:
    assert README.exists(), "README.md is missing"
    slugs = [e.slug for e in EXAMPLES]
    assert len(slugs) == len(set(slugs)), f"two walkthrough examples share a title: {slugs}"
    missing = FLOWS - set(slugs)
    assert not missing, f"README walkthrough lost example(s) {sorted(missing)}; has {slugs}"
    setup = _setup()
    for lang in LANGS:
        assert setup.of(lang), f"'### {SETUP}' has no {lang} block"
    for example in EXAMPLES:
        if example.title == SETUP:
            continue
        for lang in LANGS:
            blocks = example.of(lang)
            assert blocks, f"README.md:{example.line} {example.title!r}: no {lang} block"
            assert any(b.expected for b in blocks), (
                f"README.md:{example.line} {example.title!r}: no {lang} block shows output"
            )


def _check(block: Block, printed: str) -> None:
    if normalize(printed) == normalize(block.expected):
        return
    shown = [f"# > {line}".rstrip() for line in block.expected.splitlines()]
    diff = "\n".join(
        difflib.unified_diff(
            shown,
            as_output_lines(printed).splitlines(),
            "README.md shows",
            "the block printed",
            lineterm="",
        )
    )
    pytest.fail(
        f"{block.where}: the {block.lang} block printed other output than the README "
        f"shows (ids and times are matched by pattern):\n{diff}",
        pytrace=False,
    )


def _cases() -> list[object]:
    return [
        pytest.param(example, lang, id=f"{example.slug}-{lang}")
        for example in EXAMPLES
        if example.title != SETUP
        for lang in LANGS
    ]


@pytest.mark.parametrize(("example", "lang"), _cases())
async def test_readme_example(example: Example, lang: str, system: System) -> None:
    if lang == "bash":
        missing = [tool for tool in TOOLS if shutil.which(tool) is None]
        if missing:
            pytest.fail(
                f"the README's curl examples need {missing} installed "
                f"(apt-get install {' '.join(missing)})"
            )
    session = PythonSession(system.url) if lang == "python" else BashSession(system.url)
    try:
        for block in [*_setup().of(lang), *example.of(lang)]:
            _check(block, await session.run(block))
    finally:
        await session.close()
