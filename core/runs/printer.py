"""The headless run behind `--print`: read a range of a topic, map it, write the outputs in order.

Failures go to the error stream with topic, offset and reason, and the run goes on (or stops, with
`stop_on_error`); the caller turns `PrintResult.failed` into the exit status.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from typing import TYPE_CHECKING, BinaryIO, TextIO

from .batch import BlockResult, run_block, split_lines
from .formats import LineFormat
from ..sources.reader import MAX_RECORD_BYTES, Block, TopicReader, too_long_report
from ..record import Record
from ..sources.topic import Topic
from ..modules.watchdog import Watchdog
from ..text import printable, printable_bytes

if TYPE_CHECKING:  # a run without a module never imports the module machinery (nor orjson, see batch.py)
    from ..modules.lookback import Lookback
    from ..modules.module import Module

class Range:
    """Which records to print, in Fluvio's terms. At most one of start/head/tail is set.

    `head` starts N records from the beginning (offset N), as `fluvio consume -H N` does; `count` stops
    after that many records, whatever the start.
    A plain slotted class rather than a dataclass, as PrintResult: making a dataclass costs every
    `--print` start about half a millisecond. Read-only by convention.
    """

    __slots__ = ("start", "head", "tail", "end", "count")

    def __init__(self, start: int | None = None, head: int | None = None, tail: int | None = None,
                 end: int | None = None, count: int | None = None) -> None:
        self.start = start
        self.head = head
        self.tail = tail
        self.end = end  # inclusive
        self.count = count

    @property
    def first(self) -> int | None:
        """The absolute offset the range starts at, when the flags say it without reading the topic."""
        return self.start if self.start is not None else self.head


class PrintResult:
    """How a run went: records reported as failed, and whether it stopped early. A plain slotted class, as Range."""

    __slots__ = ("failed", "stopped")

    def __init__(self, failed: int = 0, stopped: bool = False) -> None:
        self.failed = failed
        self.stopped = stopped


class Printer:
    """Runs one `--print` job. `jobs` is a number of processes, or None for automatic."""

    def __init__(
        self,
        topic: Topic,
        stages: list[tuple[Module, dict[str, str]]],
        fmt: LineFormat,
        out: BinaryIO,
        err: TextIO,
        stop_on_error: bool = False,
        jobs: int | None = None,
        escape: bool = False,
        timeout: float | None = None,
        initial: str | None = None,
        lookbacks: list[Lookback | None] | None = None,
        max_record: int = MAX_RECORD_BYTES,
    ) -> None:
        self.topic = topic
        self.max_record = max_record
        self.stages = stages
        self.initial = initial
        # No stages: records as they are. One: that module. Several: a chain. Each module's init runs
        # here, before any record is read: what it raises stops the run (HookError, exit status 2).
        self.mapper = None
        if stages:
            from ..modules.chain import build

            self.mapper = build(stages, initial, lookbacks)
        self.wants_look_back = any(lookback is not None for lookback in lookbacks or [])
        self.fmt = fmt
        self.out = out
        self.err = err
        self.stop_on_error = stop_on_error
        self.jobs = jobs
        self.escape = escape
        self.timeout = timeout
        if timeout is not None:
            _wasm_deadline(stages, timeout)
        self.result = PrintResult()
        self._start = 0
        self._missing = False
        self._watch: Watchdog | None = None

    def run(self, selection: Range, follow: bool = False, stop: threading.Event | None = None) -> PrintResult:
        stop = stop or threading.Event()
        if getattr(self.topic, "kafka", False):  # a Kafka topic has its own reading path; files keep theirs
            from .kafka_print import run_kafka

            return run_kafka(self, selection, follow, stop)
        # What a module prints goes to stderr: stdout carries records only.
        with contextlib.ExitStack() as stack:
            reader = stack.enter_context(TopicReader(self.topic.path, max_record=self.max_record))
            stack.enter_context(contextlib.redirect_stdout(sys.stderr))
            if self.timeout is not None:
                self._watch = stack.enter_context(Watchdog(self.timeout))
            limit = self._position(reader, selection, final=not follow)
            if self.wants_look_back:
                self._look_back(reader.offset)
            if limit == 0:
                return self.result
            limit = self._map_and_write(reader, limit, final=not follow)
            if not follow and not self.result.stopped and limit != 0 and reader.change() == "truncated":
                self._report_rewritten(reader)
            if follow and not self.result.stopped and limit != 0:
                self._follow(reader, limit, stop)
        return self.result

    def _position(self, reader: TopicReader, selection: Range, final: bool) -> int | None:
        """Move the reader to the first record to print; return how many records may be printed."""
        if selection.tail is not None:
            total = reader.count_remaining(final)
            reader.skip(max(0, total - selection.tail))
        elif selection.first is not None:
            reader.skip(selection.first)
            self._start = selection.first
        limit = selection.count
        if selection.end is not None:
            first = selection.first if selection.first is not None else reader.offset
            through_end = max(0, selection.end - first + 1)
            limit = through_end if limit is None else min(limit, through_end)
        return limit

    def _look_back(self, first: int) -> None:
        """Feed look_back hooks the records before offset `first` (none before offset 0), as Fluvio's SPU does."""
        assert self.mapper is not None

        def fetch(lookback: Lookback) -> list[Record]:
            wanted = lookback.last
            low = max(0, first - wanted)
            with TopicReader(self.topic.path) as before:
                before.skip(low)
                records = [Record(low + i, None, value)
                           for block in before.blocks(first - low, final=True)
                           for i, value in enumerate(split_lines(block.data or b""))]
            return lookback.select(records, 0)

        self.mapper.look_back(fetch)

    def _pending_bytes(self, reader: TopicReader) -> int:
        return max(0, os.fstat(reader.fileno()).st_size - reader.byte)

    def _map_and_write(self, reader: TopicReader, limit: int | None, final: bool, backlog: bool = True) -> int | None:
        """Map and write what the file holds from the reader's position; returns how many may still print.

        Only the backlog may go to worker processes: records appended while following arrive a few at a
        time, and one process answers them fastest.
        """
        jobs = 1
        # An aggregate, or a look_back module, carries state from record to record: it needs one process.
        stateful = any(module.stateful for module, _ in self.stages)
        if self.mapper is not None and backlog and not stateful:
            jobs = self.jobs if self.jobs is not None else _auto_jobs(self._pending_bytes(reader))
        spans = reader.spans(final) if jobs > 1 and limit is None else None
        if jobs > 1 and (limit is not None or spans is not None):
            return self._write_parallel(reader, limit, final, jobs, spans)
        for block in reader.blocks(limit, final):
            if block.too_long:
                self._report_too_long(block.first_offset, reader.max_record)
            else:
                self._write(self._map_block(block))
            if limit is not None:
                limit -= block.count
            if self.result.stopped:
                break
        self.out.flush()
        return limit

    def _map_block(self, block: Block) -> BlockResult:
        assert block.data is not None
        if self.mapper is not None:
            return run_block(self.mapper, block.data, block.first_offset, self.fmt, self.stop_on_error, self._watch,
                             self.topic.name)
        if self.fmt.plain and b"\r" not in block.data:
            data = block.data if block.data.endswith(b"\n") else block.data + b"\n"
            return BlockResult(data, block.count)
        lines = split_lines(block.data)
        data = b"\n".join(self.fmt.line(block.first_offset + i, None, v) for i, v in enumerate(lines))
        return BlockResult(data + b"\n", block.count)

    def _write_parallel(
        self, reader: TopicReader, limit: int | None, final: bool, jobs: int, spans: list[Block] | None
    ) -> int | None:
        from .parallel import Job, map_parallel  # only large runs need it

        assert self.mapper is not None
        self.out.flush()
        job = Job(
            fd=reader.fileno(),
            mapper=self.mapper,
            fmt=self.fmt,
            stop_on_error=self.stop_on_error,
            topic=self.topic.name,
            escape=self.escape,
            out_fd=self.out.fileno(),
            err=self.err,
            timeout=self.timeout,
            max_record=reader.max_record,
        )
        if spans is not None:  # the whole backlog: its blocks are found without reading it, and counted as they are mapped
            written = map_parallel(spans, job, jobs, self._watch, reader.offset)
            reader.passed(spans, written.count)
        else:  # a head or an end: the blocks are counted here, to stop at the right record
            written = map_parallel(list(reader.blocks(limit, final, with_data=False)), job, jobs, self._watch)
        self.result.failed += written.failed
        if written.lost:
            self.result.failed += 1
            self.err.write(f"smartview: {printable(self.topic.name)}: {written.lost}; the output stops there\n")
            self.err.flush()
            self.result.stopped = True
        if written.closed:
            raise BrokenPipeError
        if written.stopped:
            self.result.stopped = True
        return None if limit is None else limit - written.count

    def _write(self, result: BlockResult) -> None:
        data = printable_bytes(result.data) if self.escape else result.data
        self.out.write(data)
        if result.reports:  # one write for the block's reports: a failing module may fail every record
            self.result.failed += len(result.reports)
            self.err.write("".join(result.reports))
            self.err.flush()
        if result.stopped:
            self.result.stopped = True

    def _report_too_long(self, offset: int, limit: int) -> None:
        self.result.failed += 1
        self.err.write(too_long_report(self.topic.name, offset, limit) + "\n")
        self.err.flush()
        if self.stop_on_error:
            self.result.stopped = True

    def _follow(self, reader: TopicReader, limit: int | None, stop: threading.Event) -> None:
        """Print records as they are appended until `stop` is set or the limit is reached."""
        from ..sources.follow import changes  # watchfiles is only needed when following

        for _ in changes(reader.path, stop):
            change = reader.change()
            if change in ("replaced", "deleted"):
                # A rotated or deleted file may have had records appended just before: the open
                # descriptor still reads them, so print them before moving on.
                limit = self._map_and_write(reader, limit, final=True, backlog=False)
            if self.result.stopped or limit == 0:
                return
            if change == "deleted":
                self._say_missing()
                continue
            self._missing = False
            if change is not None:
                reader.restart()  # a TopicError (a file that cannot be read took its place) ends the run
                self.err.write(f"smartview: topic {printable(self.topic.name)} was {change}; reading again from offset 0\n")
                self.err.flush()
            if reader.offset < self._start:  # --start beyond the end: wait for the topic to get there
                reader.skip(self._start - reader.offset)
                if reader.offset < self._start:
                    continue
            limit = self._map_and_write(reader, limit, final=False, backlog=False)
            if self.result.stopped or limit == 0:
                return

    def _report_rewritten(self, reader: TopicReader) -> None:
        """The file was truncated or rewritten in place while it was printed: what followed is gone."""
        self.result.failed += 1
        self.result.stopped = True
        self.err.write(
            f"smartview: topic {printable(self.topic.name)} was truncated or rewritten while it was read; "
            f"the output stops after offset {reader.offset - 1}\n"
        )
        self.err.flush()

    def _say_missing(self) -> None:
        if not self._missing:
            self._missing = True
            self.err.write(f"smartview: topic {printable(self.topic.name)} was deleted; waiting for it to return\n")
            self.err.flush()


def stdout_is_terminal() -> bool:
    return sys.stdout.isatty()


# Below this many bytes, starting worker processes costs more than it saves.
PARALLEL_MIN_BYTES = 8 << 20


def _auto_jobs(pending_bytes: int) -> int:
    if pending_bytes < PARALLEL_MIN_BYTES:
        return 1  # decided without importing parallel.py, which small runs never need
    from .parallel import auto_jobs

    return auto_jobs(pending_bytes)


def _wasm_deadline(stages: list[tuple[Module, dict[str, str]]], seconds: float) -> None:
    """`--timeout` for SmartModules: wasmtime stops a call past its deadline (the watchdog cannot)."""
    if any(getattr(module, "runtime", "") == "wasm" for module, _ in stages):
        from ..modules.wasm.module import set_call_timeout

        set_call_timeout(seconds)
