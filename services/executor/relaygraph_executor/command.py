"""``relaygraph executor``: run graphs pulled from NATS."""

from __future__ import annotations

import argparse

from relaygraph.command import Command, config_argument


def _run(ns: argparse.Namespace) -> int:
    from relaygraph_executor.app import run

    run(ns.config)
    return 0


COMMAND = Command("executor", "run graphs pulled from NATS", config_argument, _run, order=20)
