"""Applying a module to records: one record at a time for the viewer, a block at a time for `--print`.

A module may return bytes, str, a dict or list (written as compact JSON), or a `(key, value)` tuple.
Anything else, and any exception, becomes a `Failure` for that record: the run goes on, and the record
is reported rather than lost.
"""

from __future__ import annotations

import os
from math import isfinite
from typing import TYPE_CHECKING, Any

import orjson

from collections.abc import Callable

from ..errors import HookError
from .forks import FORKED
from .module import Module, describe_exception, module_line, module_traceback, variables, where_failed
from ..record import Record
from ..text import one_line, printable
from .watchdog import RecordTimeout

if TYPE_CHECKING:
    from .lookback import Lookback

VALUE_HEAD = 80
REPORT_CACHE = 1024  # report middles kept per Mapper: one per distinct error and module line


class Output:
    """What the module made of one record.

    A plain slotted class rather than a dataclass, as Failure: making a dataclass costs every start with
    a module about half a millisecond. Read-only by convention. Pickled by its arguments (`__reduce__`):
    the row process sends its outputs to the viewer, and that pickles and unpickles them about twice as
    fast as pickling each slot by name.
    """

    __slots__ = ("offset", "key", "value")

    def __init__(self, offset: int, key: bytes | None, value: bytes) -> None:
        self.offset = offset
        self.key = key
        self.value = value

    def __reduce__(self) -> tuple[type[Output], tuple[int, bytes | None, bytes]]:
        return Output, (self.offset, self.key, self.value)


class Failure:
    """A record the module failed on: where, why, and what the record held.

    `traceback` is None when the module raised but its traceback was not formatted: formatting one costs
    far more than mapping a record, so runs over many records keep only the module's file and line
    (`location`), and a viewer maps the one record it shows again with `Mapper(tracebacks=True)`. It is
    "" when there is no traceback to show (a wrong return value, a timeout, a process that ended).
    A plain slotted class, as Output (and pickled by its arguments, as Output is).
    """

    __slots__ = ("offset", "error", "location", "traceback", "value")

    def __init__(self, offset: int, error: str, location: str, traceback: str | None, value: bytes) -> None:
        self.offset = offset
        self.error = error
        self.location = location
        self.traceback = traceback
        self.value = value

    def __reduce__(self) -> tuple[type[Failure], tuple[int, str, str, str | None, bytes]]:
        return Failure, (self.offset, self.error, self.location, self.traceback, self.value)

    def report(self, topic: str) -> str:
        """One line for stderr: topic, offset, error, the module's line, and the start of the value.

        Everything that came from a record, the error text included, is made printable: a report must
        not be able to clear or retitle the terminal it is written to.
        """
        return (
            f"smartview: {printable(topic)} offset {self.offset}"
            f"{report_middle(self.error, self.location)}{value_head(self.value)}"
        )


def report_middle(error: str, location: str) -> str:
    """The part of a report line between the offset and the value: the same for many failures."""
    return f": {one_line(error, 300)} (at {printable(location)}); value: "


def value_head(value: bytes, limit: int = VALUE_HEAD) -> str:
    """The start of a value, printable and on one line."""
    return one_line(value[: limit * 4].decode("utf-8", "backslashreplace"), limit)


class WrongReturn(Exception):
    """The module returned something that is not a record value."""


def to_bytes(value: Any, breaks: bool = False) -> bytes:
    """The bytes of a returned value: one line of output, and nothing the module did not give.

    A subclass of bytes or str counts as its base type (its own methods are not called). A value with a
    line break would print as two records, so it fails the record, unless `breaks`: the record's own
    value had one (a `--raw` input, a Kafka record), so the topic is not one record a line anyway. NaN
    or an infinity would be written as JSON's null: that fails the record too.
    """
    kind = type(value)
    if kind is bytes:
        return value if breaks else one_line_value(value)
    if kind is str:
        encoded = value.encode("utf-8", "surrogateescape")
        return encoded if breaks else one_line_value(encoded)
    if kind is dict or kind is list:
        return json_value(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return to_bytes(memoryview(value).tobytes(), breaks)
    if isinstance(value, str):
        return to_bytes(str.encode(value, "utf-8", "surrogateescape"), breaks)
    if isinstance(value, (dict, list)):
        return json_value(value)
    raise WrongReturn(
        f"returned {type(value).__name__}; expected bytes, str, dict, list or a (key, value) tuple"
    )


def one_line_value(value: bytes) -> bytes:
    """`value`, unless it holds a line break: downstream, one record would become two."""
    if 10 in value:  # an int is searched with memchr, several times faster than b"\n"
        raise WrongReturn(f"returned a value with a line break at byte {value.index(10)}; one record "
                          "would print as several lines (escape it, or return a dict or list as JSON)")
    return value


def json_value(value: dict | list) -> bytes:
    """`value` as compact JSON; NaN and infinities fail the record rather than becoming null."""
    data = orjson.dumps(value)
    if data.find(b"null") >= 0 and not_finite(value):
        raise WrongReturn(NOT_FINITE)
    return data


NOT_FINITE = "returned NaN or an infinity, which JSON cannot hold (it would be written as null)"


def not_finite(value: Any) -> bool:
    """Whether a float that is NaN or infinite is in `value` (in its dicts, lists and tuples)."""
    kind = type(value)
    if kind is float:
        return not isfinite(value)
    if isinstance(value, dict):
        return any(not_finite(item) for item in value.values())
    if isinstance(value, (list, tuple)):
        return any(not_finite(item) for item in value)
    return isinstance(value, float) and not isfinite(value)


def to_output(offset: int, result: Any, breaks: bool = False) -> Output:
    """A returned value (or `(key, value)`) as an Output; `breaks`: line breaks are allowed (see to_bytes)."""
    if type(result) is tuple:
        if len(result) != 2:
            raise WrongReturn(f"returned a tuple of {len(result)} items; expected (key, value)")
        key, value = result
        return Output(offset, None if key is None else to_bytes(key, breaks), to_bytes(value, breaks))
    return Output(offset, None, to_bytes(result, breaks))


_NOT_RAISED_BY_MODULE = (RecordTimeout, WrongReturn)


class Mapper:
    """A module bound to parameter values: turns records into outputs or failures.

    The runs (--print, the viewer's passes, `smartview test`) drive every module through this
    interface alone, whatever runs the module's code, so that another runtime can provide the same:

        initialize()          Fluvio's init: once, before the first record (raises HookError)
        look_back(fetch)      Fluvio's look_back: `fetch(lookback)` returns the records it asks for,
                              oldest first; each is fed to the module (raises HookError)
        apply(record)         one output or a Failure (map modules)
        apply_many(record)    a list of outputs or a Failure (any kind)
        report(topic, offset, value, exc)   a failure's report line, cheaply (--print)
        snapshot(), restore(state)   the state carried from record to record, for checkpoints
        module.stateful       whether that state exists (aggregate, or a look_back hook)
        lookback              the Lookback asked for this module, or None
    """

    def __init__(
        self, module: Module, params: Any, initial: Any = None, lookback: Lookback | None = None,
        tracebacks: bool = False,
    ) -> None:
        """With `tracebacks`, a failure carries the module's formatted traceback (slow: for a few records)."""
        self.module = module
        self.params = params
        self.lookback = lookback
        self.tracebacks = tracebacks
        self._function = module.function
        self._takes_params = module.takes_params
        self._filename = str(module.path)
        self._middles: dict[tuple[type, str, int | None], str] = {}
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
            return to_output(offset, result, 10 in value)
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
                return [to_output(offset, self.acc, 10 in value)]
            result = self._function(record, self.params) if self._takes_params else self._function(record)
            if kind == "filter":
                if type(result) is not bool:
                    raise WrongReturn(f"returned {type(result).__name__}; expected True or False")
                return [Output(offset, key, value)] if result else []
            if kind == "filter_map":
                return [] if result is None else [to_output(offset, result, 10 in value)]
            if not isinstance(result, list):  # array_map
                raise WrongReturn(f"returned {type(result).__name__}; expected a list of values")
            breaks = 10 in value
            return [to_output(offset, item, breaks) for item in result]
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
        if isinstance(exc, _NOT_RAISED_BY_MODULE):
            if isinstance(exc, RecordTimeout):
                return Failure(offset, f"{module.kind} {exc}", where_failed(exc, module.path), "", value)
            return Failure(offset, f"{module.kind} {exc}", str(module.path), "", value)
        return Failure(
            offset,
            f"{module.kind} raised {describe_exception(exc)}",
            where_failed(exc, module.path),
            module_traceback(exc, module.path) if self.tracebacks else None,
            value,
        )

    def report(self, topic: str, offset: int, value: bytes, exc: BaseException) -> str:
        """`failure(offset, value, exc).report(topic)` and its newline, at a fraction of the cost.

        The fast path of `--print` for a module that fails on many records: failures of one exception
        type, message and module line share the middle of their report, which is made once.
        """
        if self.tracebacks or isinstance(exc, _NOT_RAISED_BY_MODULE):
            return self.failure(offset, value, exc).report(topic) + "\n"
        line = module_line(exc, self._filename)
        key = (type(exc), str(exc), line)
        middle = self._middles.get(key)
        if middle is None:
            if len(self._middles) >= REPORT_CACHE:  # messages that name their record: keep memory flat
                self._middles.clear()
            location = self._filename if line is None else f"{self._filename}:{line}"
            middle = report_middle(f"{self.module.kind} raised {describe_exception(exc)}", location)
            self._middles[key] = middle
        return f"smartview: {printable(topic)} offset {offset}{middle}{value_head(value)}\n"

def restore_globals(module: Module, saved: Any) -> None:
    """Put back a look_back module's variables (a dict, or pickled bytes as `Module.fresh_globals` holds them)."""
    if module.namespace is None or saved is None:
        return
    import pickle

    vars(module.namespace).update(pickle.loads(saved) if isinstance(saved, bytes) else saved)
