"""Lua scripts whose KEYS and ARGV have names.

A script declares the names of its keys and arguments; its source starts with
``local THREAD = KEYS[1]``-style lines in that order, and the caller passes
values by name (:meth:`Script.step`), so neither side counts positions. Every
key a script touches is one it declares: nothing is built from strings inside
Lua, so a script of one thread's keys runs on Redis Cluster.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from redis.commands.core import AsyncScript

from relaygraph.pipelining import Step
from relaygraph.redis_client import RedisClient


@dataclass(frozen=True)
class Lua:
    """One script: ``keys`` (upper case in Lua), ``args`` (lower case), the
    ``body``, and the shared ``functions`` it calls."""

    name: str
    keys: tuple[str, ...]
    args: tuple[str, ...]
    body: str
    functions: str = ""
    variadic: bool = False
    """More ARGV may follow the named ones (``rest`` of :meth:`Script.step`),
    from ``ARGV[NARGS + 1]``."""
    more_keys: bool = False
    """More KEYS may follow the named ones (``more_keys`` of
    :meth:`Script.step`), from ``KEYS[NKEYS + 1]``: keys the caller read, such
    as the records of a thread's runs."""

    @property
    def source(self) -> str:
        lines = [f"-- {self.name}"]
        lines += [f"local {key} = KEYS[{i}]" for i, key in enumerate(self.keys, 1)]
        lines += [f"local {arg} = ARGV[{i}]" for i, arg in enumerate(self.args, 1)]
        if self.variadic:
            lines.append(f"local NARGS = {len(self.args)}")
        if self.more_keys:
            lines.append(f"local NKEYS = {len(self.keys)}")
        return "\n".join([*lines, self.functions, self.body])


class Script:
    """A :class:`Lua` registered on a client: call it by names."""

    def __init__(self, redis: RedisClient, lua: Lua) -> None:
        self.lua = lua
        self._script: AsyncScript = redis.register_script(lua.source)

    def step(
        self,
        rest: list[Any] | tuple[Any, ...] = (),
        more_keys: list[str] | tuple[str, ...] = (),
        /,
        **values: Any,
    ) -> Step:
        """The call as one step of a round trip (``pipelining``): every key and
        argument by its name, no more, no less; then ``rest`` (a variadic
        script) and ``more_keys`` (a script that takes more keys)."""
        if rest and not self.lua.variadic:
            raise TypeError(f"script {self.lua.name} takes no more arguments")
        if more_keys and not self.lua.more_keys:
            raise TypeError(f"script {self.lua.name} takes no more keys")
        names = set(values)
        wanted = set(self.lua.keys) | set(self.lua.args)
        if names != wanted:
            raise TypeError(
                f"script {self.lua.name}: missing {sorted(wanted - names)}, "
                f"unknown {sorted(names - wanted)}"
            )
        keys = [values[k] for k in self.lua.keys]
        args = [_arg(values[a]) for a in self.lua.args]
        return (self._script, [*keys, *more_keys], [*args, *rest])


def _arg(value: Any) -> Any:
    if isinstance(value, bool):
        return "1" if value else "0"
    if value is None:
        return ""
    return value
