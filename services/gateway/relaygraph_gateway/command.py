"""``relaygraph gateway``: serve the LangGraph Server API."""

from __future__ import annotations

import argparse

from relaygraph.command import Command, config_argument


def _arguments(parser: argparse.ArgumentParser) -> None:
    config_argument(parser)
    parser.add_argument("--port", type=int, default=None, help="API port (RELAYGRAPH_PORT, 2024)")
    parser.add_argument("--host", default=None, help="API address (RELAYGRAPH_HOST, 127.0.0.1)")


def _run(ns: argparse.Namespace) -> int:
    from relaygraph_gateway.app import run

    run(ns.config, port=ns.port, host=ns.host)
    return 0


COMMAND = Command("gateway", "serve the LangGraph Server API", _arguments, _run, order=10)
