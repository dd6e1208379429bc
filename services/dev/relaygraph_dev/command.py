"""``relaygraph dev``: the whole system on this machine."""

from __future__ import annotations

import argparse

from relaygraph.command import Command, config_argument


def _arguments(parser: argparse.ArgumentParser) -> None:
    config_argument(parser)
    parser.add_argument("--port", type=int, default=2024, help="API port (default 2024)")
    parser.add_argument("--host", default="127.0.0.1", help="API address (default 127.0.0.1)")
    parser.add_argument("--executors", type=int, default=1, help="executor processes (default 1)")
    parser.add_argument(
        "--reviewer-port", type=int, default=2025, help="reviewer inbox port (default 2025)"
    )
    parser.add_argument("--no-reviewer", action="store_true", help="do not start the reviewer")


def _run(ns: argparse.Namespace) -> int:
    from relaygraph_dev.launcher import dev

    return dev(ns)


COMMAND = Command(
    "dev", "run everything on this machine (embedded NATS and Valkey)", _arguments, _run, order=0
)
