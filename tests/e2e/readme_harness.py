"""Running README.md's walkthrough as tests.

The conventions (stated in the README's "Walkthrough" section too):

- Under ``## Walkthrough`` each ``### `` heading is one example. Its fenced
  ``python`` blocks run in order in one namespace (top-level ``await`` works, as in
  ``python -m asyncio``); its ``bash`` blocks run in order in one bash process, so
  ``THREAD_ID=...`` set in one block is there in the next. Python and bash are two
  separate sessions of the same example, each on its own threads.
- The blocks of the ``### Setup`` example run first in every session.
- Lines ``# > ...`` in a block are the output the block prints. Every block is
  compared, so a block that shows no output must print nothing.
- ``http://127.0.0.1:2024`` in a block is replaced by the test system's URL.
- Before comparing, both sides are normalized: UUIDs and 32-hex interrupt ids
  become numbered placeholders (the same id twice in a block must be the same id
  twice in the output), ISO timestamps become ``<time>``, SSE ``: heartbeat``
  lines and CRs are dropped, and whitespace is not significant (so long outputs
  may be shown wrapped).

Blocks fenced as anything else (``text``, ``console``, ``json``) never run.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import io
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOC_URL = "http://127.0.0.1:2024"
DOC_NATS_URL = "nats://127.0.0.1:4222"
SETUP = "Setup"
LANGS = ("python", "bash")

_FENCE = re.compile(r"^```(\w*)\s*$")
_OUTPUT = re.compile(r"^# >(?: (.*))?$")
_UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
_HEX32 = re.compile(r"\b[0-9a-f]{32}\b")
_TIME = re.compile(r"\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})?")
_SPACE_AROUND = re.compile(r" ?([\[\]{}(),:]) ?")


@dataclass
class Block:
    lang: str
    code: str
    line: int
    """README line number of the block's first code line."""
    expected: str

    @property
    def where(self) -> str:
        return f"README.md:{self.line}"


@dataclass
class Example:
    title: str
    line: int
    blocks: list[Block] = field(default_factory=list)

    @property
    def slug(self) -> str:
        return re.sub(r"[^a-z0-9]+", "-", self.title.lower()).strip("-")

    def of(self, lang: str) -> list[Block]:
        return [b for b in self.blocks if b.lang == lang]


def parse(text: str, section: str = "Walkthrough") -> list[Example]:
    """The ``###`` examples under ``## <section>``, with their runnable blocks."""
    lines = text.splitlines()
    examples: list[Example] = []
    in_walkthrough = False
    fence: str | None = None
    code: list[str] = []
    start = 0
    for n, line in enumerate(lines, start=1):
        if fence is not None:
            if line.startswith("```"):
                if fence in LANGS and in_walkthrough and examples:
                    body = "\n".join(code) + "\n"
                    expected = "\n".join(m.group(1) or "" for c in code if (m := _OUTPUT.match(c)))
                    examples[-1].blocks.append(Block(fence, body, start, expected))
                fence = None
            else:
                code.append(line)
            continue
        if (m := _FENCE.match(line)) is not None:
            fence, code, start = m.group(1), [], n + 1
        elif line.startswith("## "):
            in_walkthrough = line[3:].strip() == section
        elif line.startswith("### ") and in_walkthrough:
            examples.append(Example(line[4:].strip(), n))
    if fence is not None:
        raise ValueError(f"README.md:{start - 1}: code block is never closed")
    return examples


def normalize(text: str) -> str:
    """What is compared: volatile values replaced, whitespace made insignificant."""
    text = "\n".join(
        line for line in text.replace("\r", "").splitlines() if line.strip() != ": heartbeat"
    )
    text = _TIME.sub("<time>", text)
    text = _numbered(_UUID, "uuid", text)
    text = _numbered(_HEX32, "id", text)
    text = re.sub(r"\s+", " ", text)
    return _SPACE_AROUND.sub(r"\1", text).strip()


def _numbered(pattern: re.Pattern[str], name: str, text: str) -> str:
    """Each distinct match becomes ``<name1>``, ``<name2>``... by first appearance."""
    seen: dict[str, str] = {}
    return pattern.sub(lambda m: seen.setdefault(m.group(0), f"<{name}{len(seen) + 1}>"), text)


# -- showing outputs the way the README does ---------------------------------------


def _pieces(line: str) -> list[str]:
    """``line`` cut after each comma (and its space) that is not inside a quoted string."""
    pieces, start, quote, escaped = [], 0, "", False
    for i, ch in enumerate(line):
        if escaped:
            escaped = False
        elif quote:
            escaped = ch == "\\"
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == ",":
            end = i + 2 if line[i + 1 : i + 2] == " " else i + 1
            pieces.append(line[start:end])
            start = end
    return [*pieces, line[start:]]


def as_output_lines(text: str, width: int = 92) -> str:
    """``text`` as the README shows output: ``# > `` lines, long ones wrapped
    between list and dict items (never inside a string), continued indented."""
    out: list[str] = []
    for line in text.replace("\r", "").splitlines():
        current = ""
        for piece in _pieces(line):
            if current.strip() and len(current) + len(piece.rstrip()) > width:
                out.append(current.rstrip())
                current = "    "
            current += piece
        out.append(current.rstrip())
    return "\n".join(f"# > {line}".rstrip() for line in out)


# -- sessions ------------------------------------------------------------------------


class PythonSession:
    """One example's Python blocks: one namespace, top-level ``await`` allowed."""

    def __init__(self, url: str, nats_url: str = DOC_NATS_URL) -> None:
        self.url = url
        self.nats_url = nats_url
        self.ns: dict[str, Any] = {"__name__": "__readme__"}

    async def run(self, block: Block) -> str:
        code = block.code.replace(DOC_URL, self.url).replace(DOC_NATS_URL, self.nats_url)
        source = "\n" * (block.line - 1) + code
        code = compile(source, str(README), "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            result = eval(code, self.ns)
            if asyncio.iscoroutine(result):
                await result
        return out.getvalue()

    async def close(self) -> None:
        client = self.ns.get("client")
        if client is not None and hasattr(client, "aclose"):
            await client.aclose()
        nc = self.ns.get("nc")
        if nc is not None and hasattr(nc, "drain") and not nc.is_closed:
            await nc.drain()


class BashSession:
    """One example's bash blocks in one ``bash`` process (``set -euo pipefail``),
    so variables carry from block to block."""

    MARK = "__README_BLOCK_DONE__"

    def __init__(self, url: str, timeout: float = 60.0) -> None:
        self.url = url
        self.timeout = timeout
        self.dir = tempfile.TemporaryDirectory(prefix="readme-bash-")
        self.stderr = Path(self.dir.name) / "stderr"
        self.proc: asyncio.subprocess.Process | None = None

    async def _start(self) -> asyncio.subprocess.Process:
        if self.proc is None:
            with self.stderr.open("wb") as err:
                self.proc = await asyncio.create_subprocess_exec(
                    "bash",
                    "--noprofile",
                    "--norc",
                    stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=err,
                    cwd=self.dir.name,
                )
            assert self.proc.stdin is not None
            self.proc.stdin.write(b"set -euo pipefail\n")
        return self.proc

    async def run(self, block: Block) -> str:
        proc = await self._start()
        assert proc.stdin is not None and proc.stdout is not None
        script = Path(self.dir.name) / f"block-{block.line}.sh"
        script.write_text(block.code.replace(DOC_URL, self.url))
        proc.stdin.write(f"source {script}\nprintf '\\n%s\\n' {self.MARK}\n".encode())
        await proc.stdin.drain()
        lines: list[bytes] = []
        while True:
            line = await asyncio.wait_for(proc.stdout.readline(), self.timeout)
            if not line:
                raise AssertionError(
                    f"{block.where}: bash block failed (exit {await proc.wait()}); "
                    f"stderr:\n{self.stderr.read_text()[-3000:]}\n"
                    f"stdout so far:\n{b''.join(lines).decode()}"
                )
            if line.rstrip(b"\n") == self.MARK.encode():
                break
            lines.append(line)
        text = b"".join(lines).decode()
        return text[:-1] if text.endswith("\n") else text  # the newline before the mark

    async def close(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                await asyncio.wait_for(self.proc.wait(), 10)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        self.dir.cleanup()
