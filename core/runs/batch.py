"""Mapping a block of whole lines at once: the fast path behind `--print`, in one process or many.

Records are handled in blocks of complete lines so that the per-record work is one function call and
one list append; the output of a block is joined once and written once. A failure becomes its report
line at once (nothing else of it is kept), and the block's reports are written once, after its output.
"""

from __future__ import annotations

import os
import re
import sys
from typing import TYPE_CHECKING, Any

from .formats import LineFormat
from ..record import Record
from ..modules.forks import FORKED

# orjson and the runner are imported by the functions that map: a `--print` without a module only
# needs BlockResult and split_lines, and starts without them (orjson alone is about 13 ms).
if TYPE_CHECKING:
    from ..modules.chain import Chain
    from ..modules.runner import Mapper
from ..modules.watchdog import Watchdog


CHUNK = 64  # records between two searches of the output for a null
# The search itself: a compiled pattern finds b"null" about a third faster than bytearray.find (0.4
# rather than 0.6 ns a byte, on JSON and plain text alike), and every byte of output is searched.
_NULL = re.compile(rb"null")


class BlockResult:
    """The printed form of a block: output bytes, the report lines of its failures, and how many records it held.

    `stopped` is set when the block ended early at a failure because the run stops on the first error.
    A plain slotted class, as `_Chunk` is: making a dataclass costs about 0.4 ms of every start.
    """

    __slots__ = ("data", "count", "reports", "stopped")

    def __init__(
        self, data: bytes | bytearray, count: int, reports: list[str] | None = None, stopped: bool = False
    ) -> None:
        self.data = data  # a bytearray as the block was built: writing it needs no copy
        self.count = count
        self.reports = [] if reports is None else reports  # one line (with its newline) per failed record
        self.stopped = stopped


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
    topic: str = "",
    lines: list[bytes] | None = None,
) -> BlockResult:
    """Map every line of `data` (whole lines; a last line without newline counts as one).

    With a `watch`, each record's offset is published so a stuck record can be timed out. Failures are
    reported as records of `topic`. `lines` is `split_lines(data)` when the caller has split it already.
    """
    import orjson

    from ..modules.runner import Mapper, one_line_value, to_output

    if lines is None:
        lines = split_lines(data)
    if hasattr(mapper, "apply_block"):  # a SmartModule: one call for the whole block
        return _run_block_wasm(mapper, lines, first_offset, fmt, stop_on_error, topic)
    if not isinstance(mapper, Mapper) or mapper.module.kind != "map":  # other kinds, and chains
        return _run_block_any_kind(mapper, lines, first_offset, fmt, stop_on_error, watch, topic)
    # Appending each output to one buffer at once (rather than keeping a list of them) lets the
    # allocator reuse the same memory for every record: orjson's results are 1 KiB allocations, and
    # keeping thousands alive made the heap grow and shrink per block (300k page faults per 1M records).
    out = bytearray()
    # Report lines, not Failure objects: a million kept objects would make the garbage collector scan
    # them over and over, and a failing record should cost a few times a good one, not a hundred.
    reports: list[str] = []
    failed: list[int] = []  # the offset of each report
    # orjson writes NaN and infinities as null. Rather than search every output for a null, the fast
    # path keeps a chunk's dicts and lists, and searches the chunk's output once (see _fail_non_finite).
    kept: list[Any] = []
    keep = kept.append
    function = mapper._function
    params = mapper.params
    takes_params = mapper._takes_params
    plain = fmt.plain
    json_kind = dict if plain else None  # a dict, the common output, is written as it is (one test a record)
    dumps = orjson.dumps
    NEWLINE = orjson.OPT_APPEND_NEWLINE
    find_null = _NULL.search
    offset = first_offset
    stopped = False
    # One Record is reused from line to line while nothing else holds it: building one costs more than
    # a third of what the rest of smartview adds per record. If the module keeps a reference to it (in
    # a list, a global), the reference count says so and the next line gets a Record of its own.
    refs = sys.getrefcount
    record = Record(offset, None, b"")
    alone = refs(record)
    forked = FORKED  # a process the module forked that comes back into this loop ends (forks.py)
    for start in range(0, len(lines), CHUNK):
        mark, reported = len(out), len(reports)
        for line in lines[start : start + CHUNK]:
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
                if kind is json_kind or kind is list and plain:
                    # The common case: one call, no temporaries. `+=` and a positional option are the
                    # cheapest forms of both calls (about 30 ns a record less than `extend` and `option=`).
                    out += dumps(result, None, NEWLINE)
                    keep(result)
                else:
                    if kind is bytes:
                        if result is not line and 10 in result:  # a line break (the record's own value has none)
                            one_line_value(result)  # raises
                        key, value = None, result
                    else:
                        output = to_output(offset, result)
                        key, value = output.key, output.value
                    out += value if plain else fmt.line(offset, key, value)
                    out += b"\n"
            except KeyboardInterrupt:
                raise
            except BaseException as exc:  # every failure is reported with its offset, sys.exit() included
                reports.append(mapper.report(topic, offset, line, exc))
                failed.append(offset)
                if stop_on_error:
                    stopped = True
                    break
            offset += 1
        if kept:
            if find_null(out, mark):
                chunk = _Chunk(mapper, topic, lines, first_offset, first_offset + start, mark, reported)
                offset, stopped = chunk.fail_non_finite(out, kept, reports, failed, offset, stopped, stop_on_error)
            kept.clear()
        if stopped:
            break
    if forked:
        os._exit(0)
    if watch is not None:
        watch.offset = -1
    return BlockResult(out, offset - first_offset + stopped, reports, stopped)


class _Chunk:
    """Where a chunk of a block's records and outputs begins: enough to take some of its outputs back."""

    __slots__ = ("mapper", "topic", "lines", "first_offset", "start", "mark", "reported")

    def __init__(
        self, mapper: Mapper, topic: str, lines: list[bytes], first_offset: int, start: int, mark: int, reported: int
    ) -> None:
        self.mapper = mapper
        self.topic = topic
        self.lines = lines
        self.first_offset = first_offset  # of the block
        self.start = start  # offset of the chunk's first record
        self.mark = mark  # where its output begins in the block's output
        self.reported = reported  # how many reports the block had before it

    def fail_non_finite(
        self, out: bytearray, kept: list[Any], reports: list[str], failed: list[int], end: int, stopped: bool,
        stop_on_error: bool,
    ) -> tuple[int, bool]:
        """Turn the outputs among `kept` that hold NaN or an infinity into failures: their lines leave
        `out` and their reports join the chunk's, in offset order. Returns the offset mapping goes on
        from and whether the block stops there (at the first of them, with `stop_on_error`)."""
        from ..modules.runner import NOT_FINITE, WrongReturn, not_finite

        bad = [number for number, value in enumerate(kept) if not_finite(value)]
        if not bad:
            return end, stopped  # the nulls were the module's own
        starts, ends = self._line_spans(out)
        where = self._lines_of(out, kept, starts, ends)
        chunk_failed = set(failed[self.reported :])
        offsets = [offset for offset in range(self.start, end) if offset not in chunk_failed]
        dropped = sorted((offsets[where[number]], where[number]) for number in bad if where[number] is not None)
        if not dropped:
            return end, stopped
        if stop_on_error:  # the run stops at the first of them: nothing after it is written or reported
            first, line = dropped[0]
            del out[starts[line] :]
            dropped, end, stopped = dropped[:1], first, True
        else:
            for _, line in reversed(dropped):
                del out[starts[line] : ends[line]]
        entries = [(offset, report) for offset, report in zip(failed[self.reported :], reports[self.reported :])
                   if offset < end or not stopped]
        for offset, _ in dropped:
            value = self.lines[offset - self.first_offset]
            entries.append((offset, self.mapper.report(self.topic, offset, value, WrongReturn(NOT_FINITE))))
        entries.sort(key=lambda entry: entry[0])
        failed[self.reported :] = [offset for offset, _ in entries]
        reports[self.reported :] = [report for _, report in entries]
        return end, stopped

    def _line_spans(self, out: bytearray) -> tuple[list[int], list[int]]:
        ends = []
        position = self.mark
        while (newline := out.find(b"\n", position)) >= 0:
            position = newline + 1
            ends.append(position)
        return [self.mark, *ends[:-1]], ends

    @staticmethod
    def _lines_of(out: bytearray, kept: list[Any], starts: list[int], ends: list[int]) -> list[int | None]:
        """The chunk's output line of each kept output: found by content when other outputs came between."""
        import orjson

        if len(kept) == len(ends):
            return list(range(len(kept)))
        where: list[int | None] = []
        line = 0
        for value in kept:
            text = orjson.dumps(value, option=orjson.OPT_APPEND_NEWLINE)
            while line < len(ends) and out[starts[line] : ends[line]] != text:
                line += 1
            where.append(line if line < len(ends) else None)
            line += 1
        return where


def _run_block_any_kind(
    mapper: Mapper | Chain,
    lines: list[bytes],
    first_offset: int,
    fmt: LineFormat,
    stop_on_error: bool,
    watch: Watchdog | None,
    topic: str,
) -> BlockResult:
    """The general path for filter, filter_map, array_map and aggregate: zero or more outputs a record."""
    from ..modules.runner import Failure

    out = bytearray()
    reports: list[str] = []
    offset = first_offset
    stopped = False
    for line in lines:
        if watch is not None:
            watch.offset = offset
        results = mapper.apply_many(Record(offset, None, line))
        if isinstance(results, Failure):
            reports.append(results.report(topic) + "\n")
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
    return BlockResult(out, offset - first_offset + stopped, reports, stopped)


def _run_block_wasm(
    mapper: Any, lines: list[bytes], first_offset: int, fmt: LineFormat, stop_on_error: bool, topic: str
) -> BlockResult:
    """A SmartModule maps the block in one call (its `--timeout` is wasmtime's deadline, not the watchdog)."""
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
    reports = [failure.report(topic) + "\n" for failure in failures]
    return BlockResult(body + b"\n" if outputs else b"", count, reports, stopped)


__all__ = ["BlockResult", "run_block", "split_lines"]
