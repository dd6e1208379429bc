"""``relaygraph <command>``: one program name for every role.

The shared package knows no service. Each installed relaygraph package declares
its command under the ``relaygraph.commands`` entry-point group (the gateway
``gateway``, the executor ``executor``, the reviewer ``reviewer``, the
development launcher ``dev``), so a production image, which leaves the
development launcher out, simply has no ``dev`` command.
"""

from __future__ import annotations

import argparse
import sys
from importlib.metadata import entry_points

from relaygraph.command import COMMANDS_GROUP, Command
from relaygraph.errors import RelaygraphError


def installed_commands() -> list[Command]:
    found = []
    for point in entry_points(group=COMMANDS_GROUP):
        command = point.load()
        if not isinstance(command, Command):
            raise TypeError(f"entry point {point.value} is not a relaygraph.command.Command")
        found.append(command)
    return sorted(found, key=lambda c: (c.order, c.name))


def parser(commands: list[Command]) -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="relaygraph", description="relaygraph runs LangGraph graphs over NATS and Redis."
    )
    sub = top.add_subparsers(dest="command", required=True)
    for command in commands:
        command.arguments(sub.add_parser(command.name, help=command.help))
    return top


def main(argv: list[str] | None = None) -> int:
    commands = installed_commands()
    if not commands:
        print("relaygraph: no relaygraph service is installed", file=sys.stderr)
        return 2
    ns = parser(commands).parse_args(argv)
    chosen = next(c for c in commands if c.name == ns.command)
    try:
        return chosen.run(ns)
    except RelaygraphError as exc:
        print(f"relaygraph: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
