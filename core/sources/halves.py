"""A whole-topic pass over a large file's backlog on two cores: the later half in a forked process.

The passes that map every record (the error count, the output index, find's and the quick filter's
counts) spend their time in module code, one record after another, on one core. When a topic file
holds more than `SPLIT_AT` bytes to go, its backlog (as it is when the pass starts) is cut at the line
boundary nearest its middle. This process maps the first half and reports it as it goes, in offset
order as before; a forked copy of it (same module, same parameter values, same low priority, stdin
already /dev/null) maps the second half with offsets counted from 0 and hands back a summary (the
failed offsets, the per-record output counts) when done. The summary is merged after the first half,
shifted to its true offsets, and this process alone goes on following the file from where the
backlog ended. The copy ends as soon as it finds its parent gone (the viewer stopped the pass).

If the copy cannot run or dies, this process maps the second half itself: nothing is lost.
Aggregates carry state from record to record and cannot be split: their passes stay in one process.
`SMARTVIEW_PASS_JOBS=1` keeps every pass in one process (the benchmark's side-by-side figure).
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..record import Record
from .reader import MAX_RECORD_BYTES, TopicReader
from .source import FILE_BLOCK, follow_reader

SPLIT_AT = 8 << 20  # backlog bytes from which a second process pays for its fork (about 100k records)

Batches = Iterator[tuple[int, list[Record]]]


@dataclass(frozen=True)
class Half:
    """What the forked copy made of the second half: `count` records, and its `summary` of them."""

    count: int
    summary: Any


def split_enabled() -> bool:
    """Whether passes may use a second process (`SMARTVIEW_PASS_JOBS=1` says no)."""
    return os.environ.get("SMARTVIEW_PASS_JOBS", "auto") != "1"


def follow_halves(path: str, start: int, later: Callable[[Batches], Any]) -> Iterator[tuple[int, list[Record] | Half]]:
    """`follow_records` for a topic file, with the second half of a large backlog mapped by `later` in a fork.

    Yields (offset, records) as `follow_records` does, and once `(offset, Half)`: the second half's
    summary, whose offsets the caller adds `offset` to. `later` gets batches of records numbered from 0
    and returns something picklable.
    """
    reader = TopicReader(Path(path), block_size=FILE_BLOCK)
    reader.skip(start)
    fd = reader.fileno()
    end = reader._last_line_end(fd, final=False)
    middle = reader._line_end_after(fd, (reader.byte + end) // 2, end)
    if not split_enabled() or end - reader.byte < SPLIT_AT or not reader.byte < middle < end:
        yield from follow_reader(reader)
        return
    worker, results = _fork_later(fd, middle, end, later)
    offset = reader.offset
    first_half = _Range(fd, reader.byte, middle, offset)
    yield from first_half.batches()
    offset += first_half.count
    half = _collect(worker, results)
    if half is None:  # the copy failed: map the second half here
        second_half = _Range(fd, middle, end, offset)
        yield from second_half.batches()
        offset += second_half.count
    else:
        yield offset, half
        offset += half.count
    reader.moved_to(end, offset)
    yield from follow_reader(reader)


class _Range:
    """The records of bytes [start, end) of a file, `end` a line's end, numbered from `first`."""

    def __init__(self, fd: int, start: int, end: int, first: int, parent: int | None = None) -> None:
        self.fd, self.start, self.end, self.first, self.parent = fd, start, end, first, parent
        self.count = 0

    def batches(self) -> Batches:
        from ..runs.batch import split_lines

        position = self.start
        while position < self.end:
            if self.parent is not None and os.getppid() != self.parent:
                os._exit(0)  # the pass was stopped: so is its copy
            data = os.pread(self.fd, min(FILE_BLOCK, self.end - position), position)
            cut = data.rfind(b"\n") + 1
            if cut == 0:  # a line longer than a block
                cut = TopicReader._line_end_after(self.fd, position, self.end) - position
                data = os.pread(self.fd, cut, position) if cut <= MAX_RECORD_BYTES else None
            first = self.first + self.count
            if data is None:  # too long to read: the viewer's rows report it
                self.count += 1
            else:
                values = split_lines(data[:cut] if cut < len(data) else data)
                self.count += len(values)
                yield first, [Record(first + i, None, value) for i, value in enumerate(values)]
            position += cut


def _fork_later(fd: int, start: int, end: int, later: Callable[[Batches], Any]) -> tuple[int, int]:
    """Fork the copy that maps [start, end); returns its pid (-1 if none) and the pipe its summary comes on."""
    from ..modules.forks import own_fork

    readable, writable = os.pipe()
    parent = os.getpid()
    try:
        pid = os.fork()
    except OSError:
        os.close(writable)
        return -1, readable
    if pid:
        os.close(writable)
        return pid, readable
    code = 1
    try:
        own_fork()  # a worker of smartview's own: it maps on (forks.py)
        os.close(readable)
        second = _Range(fd, start, end, 0, parent)
        summary = later(second.batches())
        data = pickle.dumps(Half(second.count, summary), protocol=pickle.HIGHEST_PROTOCOL)
        view = memoryview(data)
        while view:
            view = view[os.write(writable, view):]
        code = 0
    finally:
        os._exit(code)


def _collect(pid: int, readable: int) -> Half | None:
    """The copy's summary once it is done; None if it failed."""
    chunks = []
    while chunk := os.read(readable, 1 << 20):
        chunks.append(chunk)
    os.close(readable)
    if pid < 0:
        return None
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        return None
    try:
        half = pickle.loads(b"".join(chunks))
    except Exception:
        return None
    return half if isinstance(half, Half) else None
