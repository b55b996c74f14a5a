"""A whole-topic pass over a large file's backlog on two cores: part of it mapped by a forked copy.

The passes that map every record (the error count, the output index, find's and the quick filter's
counts) spend their time in module code, one record after another, on one core. When a topic file
holds more than `SPLIT_AT` bytes to go, its backlog (as it is when the pass starts) is cut at line
boundaries into pieces (`PIECES`, more for a very large backlog). This process maps pieces from the front and reports them as it goes,
in offset order as before; a forked copy of it (same module, same parameter values, same low priority,
stdin already /dev/null) maps pieces from the back, each with offsets counted from 0, and hands back a
summary of each (the failed offsets, the per-record output counts). They meet wherever the processor
time they got puts them. The copy's summaries are merged after this process's pieces, shifted to
their true offsets, and this process alone goes on following the file from where the backlog ended.
The copy ends as soon as it finds its parent gone (the viewer stopped the pass).

If the copy cannot run or dies, this process maps what it left: nothing is lost. Aggregates and
look_back modules carry state from record to record and cannot be split: their passes stay in one
process. `SMARTVIEW_PASS_JOBS=1` keeps every pass in one process (the benchmark's side-by-side figure).
"""

from __future__ import annotations

import os
import pickle
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..record import Record
from .reader import MAX_RECORD_BYTES, TopicReader
from .source import FILE_BLOCK, follow_reader

SPLIT_AT = 8 << 20  # backlog bytes from which a second process pays for its fork (about 100k records)
PIECES = 32  # the backlog is cut into at least this many pieces, shared out as the processes get to them
PIECE_BYTES = 32 << 20  # and into pieces of about this size at most: a piece's summary is held whole
HEADER = struct.Struct("qq")  # before each summary the copy sends: its piece number and length

Batches = Iterator[tuple[int, list[Record]]]


@dataclass(frozen=True)
class Half:
    """What the forked copy made of one piece: `count` records, and its `summary` of them."""

    count: int
    summary: Any


def split_enabled() -> bool:
    """Whether passes may use a second process (`SMARTVIEW_PASS_JOBS=1` says no)."""
    return os.environ.get("SMARTVIEW_PASS_JOBS", "auto") != "1"


def follow_halves(path: str, start: int, later: Callable[[Batches], Any]) -> Iterator[tuple[int, list[Record] | Half]]:
    """`follow_records` for a topic file, with part of a large backlog mapped by `later` in a fork.

    Yields (offset, records) as `follow_records` does, and `(offset, Half)` for each piece the copy
    mapped: its summary, whose offsets the caller adds `offset` to. `later` gets batches of records
    numbered from 0 and returns something picklable.
    """
    reader = TopicReader(Path(path), block_size=FILE_BLOCK)
    reader.skip(start)
    fd = reader.fileno()
    end = reader._last_line_end(fd, final=False)
    if not split_enabled() or end - reader.byte < SPLIT_AT:
        yield from follow_reader(reader)
        return
    cuts = _cuts(fd, reader.byte, end)
    claims = _Claims(len(cuts) - 1)
    worker, results = _fork_later(fd, cuts, claims, later)
    received = _Drain(results)  # read as the copy writes, so it never waits on a full pipe
    offset = reader.offset
    while (piece := claims.front()) is not None:  # this process takes pieces from the front, in order
        mapped = _Range(fd, cuts[piece], cuts[piece + 1], offset)
        yield from mapped.batches()
        offset += mapped.count
    halves = _collect(worker, received)
    for piece in range(claims.first_taken_from_back(), len(cuts) - 1):
        half = received.load(halves[piece]) if piece in halves else None
        if half is None:  # the copy failed on it: map it here
            mapped = _Range(fd, cuts[piece], cuts[piece + 1], offset)
            yield from mapped.batches()
            offset += mapped.count
        else:
            yield offset, half
            offset += half.count
    received.file.close()  # the summaries' disk space goes back while the pass follows the file
    reader.moved_to(end, offset)
    yield from follow_reader(reader)


def _cuts(fd: int, start: int, end: int) -> list[int]:
    """Line boundaries cutting bytes [start, end) into pieces (fewer for long lines)."""
    cuts = [start]
    pieces = max(PIECES, (end - start) // PIECE_BYTES)
    for k in range(1, pieces):
        cut = TopicReader._line_end_after(fd, start + (end - start) * k // pieces, end)
        if cuts[-1] < cut < end:
            cuts.append(cut)
    cuts.append(end)
    return cuts


class _Claims:
    """Which pieces are taken, shared by both processes: this one from the front, the copy from the back.

    Whichever is quicker maps more: a copy starved of processor time by other work leaves its pieces
    to this process rather than making it wait.
    """

    def __init__(self, pieces: int) -> None:
        import mmap
        import multiprocessing

        self._lock = multiprocessing.Lock()  # a semaphore in shared memory: it survives the fork
        self._shared = mmap.mmap(-1, 16)
        struct.pack_into("qq", self._shared, 0, 0, pieces)  # next from the front, first taken from the back

    def front(self) -> int | None:
        with self._lock:
            front, back = struct.unpack_from("qq", self._shared, 0)
            if front >= back:
                return None
            struct.pack_into("q", self._shared, 0, front + 1)
            return front

    def back(self) -> int | None:
        with self._lock:
            front, back = struct.unpack_from("qq", self._shared, 0)
            if back - 1 < front:
                return None
            struct.pack_into("q", self._shared, 8, back - 1)
            return back - 1

    def first_taken_from_back(self) -> int:
        with self._lock:
            return struct.unpack_from("qq", self._shared, 0)[1]


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


def _fork_later(fd: int, cuts: list[int], claims: _Claims, later: Callable[[Batches], Any]) -> tuple[int, int]:
    """Fork the copy that maps pieces from the back; returns its pid (-1 if none) and the pipe its summaries come on."""
    from ..modules.forks import own_fork
    from ..runs.priority import group_of_its_own

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
        group_of_its_own()
        os.close(readable)
        while (piece := claims.back()) is not None:
            mapped = _Range(fd, cuts[piece], cuts[piece + 1], 0, parent)
            summary = later(mapped.batches())
            data = pickle.dumps(Half(mapped.count, summary), protocol=pickle.HIGHEST_PROTOCOL)
            view = memoryview(HEADER.pack(piece, len(data)) + data)
            while view:
                view = view[os.write(writable, view):]
        code = 0
    finally:
        os._exit(code)


class _Drain:
    """What the copy writes, read by a thread of this process while it maps its own pieces.

    Kept in an unnamed temporary file, not in memory: the copy's counts of a topic of 100M records
    would be hundreds of MB by the time this process gets to them.
    """

    def __init__(self, readable: int) -> None:
        import tempfile
        import threading

        self.file = tempfile.TemporaryFile()
        self._readable = readable
        self._thread = threading.Thread(target=self._read, name="smartview-halves", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while chunk := os.read(self._readable, 1 << 20):
            self.file.write(chunk)
        os.close(self._readable)

    def pieces(self) -> dict[int, tuple[int, int]]:
        """Once the copy is done: where each piece's summary lies in the file, by piece."""
        self._thread.join()
        size = self.file.tell()
        found = {}
        position = 0
        while position + HEADER.size <= size:
            self.file.seek(position)
            piece, length = HEADER.unpack(self.file.read(HEADER.size))
            if position + HEADER.size + length > size:
                break  # cut off: the copy died while writing it
            found[piece] = (position + HEADER.size, length)
            position += HEADER.size + length
        return found

    def load(self, where: tuple[int, int]) -> Half:
        self.file.seek(where[0])
        return pickle.loads(self.file.read(where[1]))


def _collect(pid: int, received: _Drain) -> dict[int, tuple[int, int]]:
    """Where the copy's summaries are, by piece, once it is done; a piece it did not finish is missing."""
    if pid >= 0:
        os.waitpid(pid, 0)
    return received.pieces()
