"""Applying a module to records: one record at a time for the viewer, a block at a time for `--print`.

A module may return bytes, str, a dict or list (written as compact JSON), or a `(key, value)` tuple.
Anything else, and any exception, becomes a `Failure` for that record: the run goes on, and the record
is reported rather than lost.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import orjson

from collections.abc import Callable

from ..errors import HookError
from .forks import FORKED
from .lookback import Lookback
from .module import Module, describe_exception, variables, module_traceback, where_failed
from ..record import Record
from ..text import one_line, printable
from .watchdog import RecordTimeout

VALUE_HEAD = 80


@dataclass(frozen=True, slots=True)
class Output:
    """What the module made of one record."""

    offset: int
    key: bytes | None
    value: bytes


@dataclass(frozen=True, slots=True)
class Failure:
    """A record the module failed on: where, why, and what the record held."""

    offset: int
    error: str
    location: str
    traceback: str
    value: bytes

    def report(self, topic: str) -> str:
        """One line for stderr: topic, offset, error, the module's line, and the start of the value.

        Everything that came from a record, the error text included, is made printable: a report must
        not be able to clear or retitle the terminal it is written to.
        """
        return (
            f"smartview: {printable(topic)} offset {self.offset}: {one_line(self.error, 300)} "
            f"(at {printable(self.location)}); "
            f"value: {value_head(self.value)}"
        )


def value_head(value: bytes, limit: int = VALUE_HEAD) -> str:
    """The start of a value, printable and on one line."""
    return one_line(value[: limit * 4].decode("utf-8", "backslashreplace"), limit)


class WrongReturn(Exception):
    """The module returned something that is not a record value."""


def to_bytes(value: Any) -> bytes:
    kind = type(value)
    if kind is bytes:
        return value
    if kind is str:
        return value.encode("utf-8", "surrogateescape")
    if kind is dict or kind is list:
        return orjson.dumps(value)
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, (dict, list)):
        return orjson.dumps(value)
    if isinstance(value, str):
        return str(value).encode("utf-8", "surrogateescape")
    raise WrongReturn(
        f"returned {type(value).__name__}; expected bytes, str, dict, list or a (key, value) tuple"
    )


def to_output(offset: int, result: Any) -> Output:
    if type(result) is tuple:
        if len(result) != 2:
            raise WrongReturn(f"returned a tuple of {len(result)} items; expected (key, value)")
        key, value = result
        return Output(offset, None if key is None else to_bytes(key), to_bytes(value))
    return Output(offset, None, to_bytes(result))


class Mapper:
    """A module bound to parameter values: turns records into outputs or failures.

    The runs (--print, the viewer's passes, `smartview test`) drive every module through this
    interface alone, whatever runs the module's code, so that another runtime can provide the same:

        initialize()          Fluvio's init: once, before the first record (raises HookError)
        look_back(fetch)      Fluvio's look_back: `fetch(lookback)` returns the records it asks for,
                              oldest first; each is fed to the module (raises HookError)
        apply(record)         one output or a Failure (map modules)
        apply_many(record)    a list of outputs or a Failure (any kind)
        snapshot(), restore(state)   the state carried from record to record, for checkpoints
        module.stateful       whether that state exists (aggregate, or a look_back hook)
        lookback              the Lookback asked for this module, or None
    """

    def __init__(self, module: Module, params: Any, initial: Any = None, lookback: Lookback | None = None) -> None:
        self.module = module
        self.params = params
        self.lookback = lookback
        self._function = module.function
        self._takes_params = module.takes_params
        # An aggregate's accumulator: the state it carries from one record to the next.
        self.acc = module.initial if initial is None else initial
        if module.look_back is not None:
            # A new instance starts from the module as imported, as a new Fluvio instance does: the
            # state a look_back module keeps in its variables must not leak from an earlier run.
            restore_globals(module, module.fresh_globals)

    def initialize(self) -> None:
        """Call the module's init(params), if it has one; what it raises stops the run (a usage error)."""
        init = self.module.init
        if init is None:
            return
        try:
            init(self.params)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:
            raise HookError(f"{where_failed(exc, self.module.path)}: init raised {describe_exception(exc)}") from None
        finally:
            if FORKED:  # a process the module forked came back here: it ends (forks.py)
                os._exit(0)

    def look_back(self, fetch: Callable[[Lookback], list[Record]]) -> None:
        """Feed the module the records its lookback asks for, oldest first, through its look_back hook."""
        hook = self.module.look_back
        if self.lookback is None or hook is None:
            return
        for record in fetch(self.lookback):
            offset = record.offset
            try:
                hook(record, self.params)
                if FORKED:
                    os._exit(0)
            except KeyboardInterrupt:
                raise
            except BaseException as exc:
                raise HookError(
                    f"{where_failed(exc, self.module.path)}: look_back raised {describe_exception(exc)} "
                    f"at offset {offset}"
                ) from None

    def snapshot(self) -> Any:
        """The state this module carries to the next record: its accumulator, and a look_back module's variables."""
        if self.module.look_back is None:
            return self.acc
        return self.acc, variables(self.module.namespace)

    def restore(self, state: Any) -> None:
        if self.module.look_back is None:
            self.acc = state
            return
        self.acc, variables = state
        restore_globals(self.module, variables)

    def apply(self, record: Record) -> Output | Failure:
        offset, value = record.offset, record.value  # as read: the module may change the record
        try:
            if self._takes_params:
                result = self._function(record, self.params)
            else:
                result = self._function(record)
            return to_output(offset, result)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # SystemExit too: a module's sys.exit() fails its record, not the run
            return self.failure(offset, value, exc)
        finally:
            if FORKED:  # a process the module forked came back here: it ends (forks.py)
                os._exit(0)

    def apply_many(self, record: Record) -> list[Output] | Failure:
        """What any kind of module makes of one record: no output, one, or several.

        filter keeps the record when it returns True; filter_map drops it on None; array_map returns
        a list of values; aggregate returns the new accumulator, which is emitted after each record.
        """
        kind = self.module.kind
        if kind == "map":
            result = self.apply(record)
            return result if isinstance(result, Failure) else [result]
        offset, key, value = record.offset, record.key, record.value
        try:
            if kind == "aggregate":
                args = (self.acc, record, self.params) if self._takes_params else (self.acc, record)
                self.acc = self._function(*args)
                return [to_output(offset, self.acc)]
            result = self._function(record, self.params) if self._takes_params else self._function(record)
            if kind == "filter":
                if type(result) is not bool:
                    raise WrongReturn(f"returned {type(result).__name__}; expected True or False")
                return [Output(offset, key, value)] if result else []
            if kind == "filter_map":
                return [] if result is None else [to_output(offset, result)]
            if not isinstance(result, list):  # array_map
                raise WrongReturn(f"returned {type(result).__name__}; expected a list of values")
            return [to_output(offset, item) for item in result]
        except KeyboardInterrupt:
            raise
        except BaseException as exc:
            return self.failure(offset, value, exc)
        finally:
            if FORKED:  # a process the module forked came back here: it ends (forks.py)
                os._exit(0)

    def failure(self, offset: int, value: bytes, exc: BaseException) -> Failure:
        """The failure of the record read at `offset` with `value` (not what the module left in it)."""
        module = self.module
        if isinstance(exc, RecordTimeout):
            return Failure(offset, f"{module.kind} {exc}", where_failed(exc, module.path), "", value)
        if isinstance(exc, WrongReturn):
            return Failure(offset, f"{module.kind} {exc}", str(module.path), "", value)
        return Failure(
            offset,
            f"{module.kind} raised {describe_exception(exc)}",
            where_failed(exc, module.path),
            module_traceback(exc, module.path),
            value,
        )


def restore_globals(module: Module, saved: Any) -> None:
    """Put back a look_back module's variables (a dict, or pickled bytes as `Module.fresh_globals` holds them)."""
    if module.namespace is None or saved is None:
        return
    import pickle

    vars(module.namespace).update(pickle.loads(saved) if isinstance(saved, bytes) else saved)
