"""What a relaygraph package declares to add a ``relaygraph`` subcommand (see
``relaygraph.cli``). Its own module, so the class is the same object whether
the dispatcher runs as ``relaygraph`` or as ``python -m relaygraph.cli``."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

COMMANDS_GROUP = "relaygraph.commands"
"""The entry-point group each package lists its ``Command`` under."""


@dataclass(frozen=True)
class Command:
    """One ``relaygraph`` subcommand. ``arguments`` adds its flags; ``run``
    does the work (importing its service only then, so ``--help`` stays quick)
    and returns the exit code."""

    name: str
    help: str
    arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
    order: int = 50


def config_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", default=None, help="path of langgraph.json (default: ./langgraph.json)"
    )
