"""Who may import whom: the shared package knows no service, no service knows
another, and only the development launcher (relaygraph_dev) starts servers.
Read from the source's import statements, so a lazy import inside a function
counts too."""

from __future__ import annotations

import ast
from pathlib import Path

from relaygraph.cli import installed_commands, parser

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {
    "relaygraph": ROOT / "shared" / "relaygraph",
    "relaygraph_gateway": ROOT / "services" / "gateway" / "relaygraph_gateway",
    "relaygraph_executor": ROOT / "services" / "executor" / "relaygraph_executor",
    "relaygraph_reviewer": ROOT / "services" / "reviewer" / "relaygraph_reviewer",
    "relaygraph_dev": ROOT / "services" / "dev" / "relaygraph_dev",
}
MAY_IMPORT = {
    "relaygraph": {"relaygraph"},
    "relaygraph_gateway": {"relaygraph", "relaygraph_gateway"},
    "relaygraph_executor": {"relaygraph", "relaygraph_executor"},
    "relaygraph_reviewer": {"relaygraph", "relaygraph_reviewer"},
    "relaygraph_dev": {"relaygraph", "relaygraph_dev"},
}


def imported_packages(source: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(source.read_text(), str(source))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return {name for name in found if name in PACKAGES}


def test_each_package_imports_only_what_it_may() -> None:
    wrong = {
        f"{path.relative_to(ROOT)} imports {name}"
        for package, folder in PACKAGES.items()
        for path in folder.rglob("*.py")
        for name in imported_packages(path) - MAY_IMPORT[package]
    }
    assert not wrong, sorted(wrong)


def test_every_installed_package_brings_its_command() -> None:
    assert [c.name for c in installed_commands()] == ["dev", "gateway", "executor", "reviewer"]
    ns = parser(installed_commands()).parse_args(["gateway", "--port", "9", "--host", "::"])
    assert (ns.command, ns.port, ns.host, ns.config) == ("gateway", 9, "::", None)
