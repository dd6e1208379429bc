"""``relaygraph reviewer``: the reviewer inbox, auto-review rules and webhook."""

from __future__ import annotations

import argparse

from relaygraph.command import Command, config_argument


def _arguments(parser: argparse.ArgumentParser) -> None:
    config_argument(parser)
    parser.add_argument("--port", type=int, default=None, help="inbox port (REVIEWER_PORT, 2025)")


def _run(ns: argparse.Namespace) -> int:
    from relaygraph_reviewer.app import run

    run(ns.config, ns.port)
    return 0


COMMAND = Command(
    "reviewer", "the reviewer inbox, auto-review rules and webhook", _arguments, _run, order=30
)
