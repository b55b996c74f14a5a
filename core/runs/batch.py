"""Mapping a block of whole lines at once: the fast path behind `--print`, in one process or many.

Records are handled in blocks of complete lines so that the per-record work is one function call and
one list append; the output of a block is joined once and written once.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from .formats import LineFormat
from ..record import Record
from ..modules.forks import FORKED
from ..modules.runner import Failure, Mapper, WrongReturn, to_output

if TYPE_CHECKING:
    from ..modules.chain import Chain
from ..modules.watchdog import Watchdog


@dataclass(slots=True)
class BlockResult:
    """The printed form of a block: output bytes, the failures in it, and how many records it held.

    `stopped` is set when the block ended early at a failure because the run stops on the first error.
    """

    data: bytes
    count: int
    failures: list[Failure] = field(default_factory=list)
    stopped: bool = False


def split_lines(data: bytes) -> list[bytes]:
    """The records in a block of whole lines: without their `\\n` or `\\r\\n`."""
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    if b"\r" in data:
        lines = [line[:-1] if line.endswith(b"\r") else line for line in lines]
    return lines


def run_block(
    mapper: Mapper | Chain,
    data: bytes,
    first_offset: int,
    fmt: LineFormat,
    stop_on_error: bool = False,
    watch: Watchdog | None = None,
) -> BlockResult:
    """Map every line of `data` (whole lines; a last line without newline counts as one).

    With a `watch`, each record's offset is published so a stuck record can be timed out.
    """
    if hasattr(mapper, "apply_block"):  # a SmartModule: one call for the whole block
        return _run_block_wasm(mapper, data, first_offset, fmt, stop_on_error)
    if not isinstance(mapper, Mapper) or mapper.module.kind != "map":  # other kinds, and chains
        return _run_block_any_kind(mapper, data, first_offset, fmt, stop_on_error, watch)
    lines = split_lines(data)
    # Appending each output to one buffer at once (rather than keeping a list of them) lets the
    # allocator reuse the same memory for every record: orjson's results are 1 KiB allocations, and
    # keeping thousands alive made the heap grow and shrink per block (300k page faults per 1M records).
    out = bytearray()
    append = out.extend
    failures: list[Failure] = []
    function = mapper._function
    params = mapper.params
    takes_params = mapper._takes_params
    plain = fmt.plain
    dumps = orjson.dumps
    NEWLINE = orjson.OPT_APPEND_NEWLINE
    offset = first_offset
    stopped = False
    # One Record is reused from line to line while nothing else holds it: building one costs more than
    # a third of what the rest of smartview adds per record. If the module keeps a reference to it (in
    # a list, a global), the reference count says so and the next line gets a Record of its own.
    refs = sys.getrefcount
    record = Record(offset, None, b"")
    alone = refs(record)
    forked = FORKED  # a process the module forked that comes back into this loop ends (forks.py)
    for line in lines:
        if forked:
            os._exit(0)
        if refs(record) != alone:
            record = Record(offset, None, line)
            alone = refs(record)
        record.offset = offset
        record.key = None
        record.value = line
        if watch is not None:
            watch.offset = offset
        try:
            result = function(record, params) if takes_params else function(record)
            kind = type(result)
            if plain and (kind is dict or kind is list):
                append(dumps(result, option=NEWLINE))  # the common case: one call, no temporaries
            else:
                if kind is bytes:
                    key, value = None, result
                else:
                    output = to_output(offset, result)
                    key, value = output.key, output.value
                append(value if plain else fmt.line(offset, key, value))
                append(b"\n")
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # every failure is reported with its offset, sys.exit() included
            failures.append(mapper.failure(offset, line, exc))
            if stop_on_error:
                stopped = True
                break
        offset += 1
    if forked:
        os._exit(0)
    if watch is not None:
        watch.offset = -1
    return BlockResult(bytes(out), offset - first_offset + stopped, failures, stopped)


def _run_block_any_kind(
    mapper: Mapper | Chain, data: bytes, first_offset: int, fmt: LineFormat, stop_on_error: bool, watch: Watchdog | None
) -> BlockResult:
    """The general path for filter, filter_map, array_map and aggregate: zero or more outputs a record."""
    out = bytearray()
    failures: list[Failure] = []
    offset = first_offset
    stopped = False
    for line in split_lines(data):
        if watch is not None:
            watch.offset = offset
        results = mapper.apply_many(Record(offset, None, line))
        if isinstance(results, Failure):
            failures.append(results)
            if stop_on_error:
                stopped = True
                break
        else:
            for output in results:
                out += fmt.line(offset, output.key, output.value)
                out += b"\n"
        offset += 1
    if watch is not None:
        watch.offset = -1
    return BlockResult(bytes(out), offset - first_offset + stopped, failures, stopped)


def _run_block_wasm(mapper: Any, data: bytes, first_offset: int, fmt: LineFormat, stop_on_error: bool) -> BlockResult:
    """A SmartModule maps the block in one call (its `--timeout` is wasmtime's deadline, not the watchdog)."""
    lines = split_lines(data)
    outputs, failures = mapper.apply_flat([(offset, None, line) for offset, line in enumerate(lines, first_offset)])
    count = len(lines)
    stopped = False
    if stop_on_error and failures:
        stopped = True
        failures = failures[:1]
        count = failures[0].offset - first_offset + 1
        outputs = [output for output in outputs if output[0] < failures[0].offset]
    if fmt.plain:
        body = b"\n".join([value for _, _, value in outputs])
    else:
        body = b"\n".join([fmt.line(offset, key, value) for offset, key, value in outputs])
    return BlockResult(body + b"\n" if outputs else b"", count, failures, stopped)


__all__ = ["BlockResult", "run_block", "split_lines", "WrongReturn"]
