"""A whole-topic pass over a large file's backlog on two cores: part of it mapped by a forked copy.

The passes that map every record (the error count, the output index, find's and the quick filter's
counts) spend their time in module code, one record after another, on one core. When a topic file
holds more than `SPLIT_AT` bytes to go, its backlog (as it is when the pass starts) is cut at line
boundaries into pieces (`PIECES`, more for a very large backlog). This process and a forked copy of it
(same module, same parameter values, same low priority, stdin already /dev/null) take the pieces in
order, each the next one neither has taken (`_Claims`), so the two move down the topic side by side
and a match three quarters of the way in is reached after about three eighths of the work; the output
index fills in from the top. The copy hands back a summary of each piece it maps (the failed offsets,
the per-record output counts, numbered from 0) through a temporary file. This process reports in
offset order: the records of its own pieces as it maps them, and the copy's summaries, shifted to
their true offsets, as their turn comes. When its next piece is one the copy is still mapping, it does
not idle: it maps the next piece not yet taken and holds that piece's summary (`AHEAD` of them at
most) until its turn. Once the backlog is reported the copy is ended, and this process alone goes on
following the file from where the backlog ended. The copy ends as soon as it finds its parent gone
(the viewer stopped the pass).

Nothing waits for the copy for long. When this process has nothing else to map and its next piece is
in the copy's hands, it waits only while the copy, at the pace it has kept since the fork, would
finish that piece sooner than this process could map the whole piece at its own pace; otherwise it
maps the piece itself and tells the copy to drop it. A copy starved of processor time (or stopped)
thus holds the pass up by about one piece's time at most. If the copy cannot run or dies, this
process maps what it left: nothing is lost. Aggregates and look_back modules carry state from record
to record and cannot be split: their passes stay in one process. `SMARTVIEW_PASS_JOBS=1` keeps every
pass in one process (the benchmark's side-by-side figure).
"""

from __future__ import annotations

import functools
import os
import pickle
import select
import signal
import struct
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..record import Record
from .reader import MAX_RECORD_BYTES, TopicReader
from .source import FILE_BLOCK, follow_reader

SPLIT_AT = 8 << 20  # backlog bytes from which a second process pays for its fork (about 100k records)
PIECES = 64  # the backlog is cut into at least this many pieces, taken in turn as the processes get to them
PIECE_BYTES = 32 << 20  # and into pieces of about this size at most: a piece's summary is held whole
AHEAD = 4  # summaries of pieces this process mapped ahead of their turn, held at most
WAIT = 0.02  # seconds between two looks at the copy's progress while waiting for its piece
MOST_PIECES = 2048  # their numbers fill a page at most (NUMBER): beyond 64 GiB, pieces grow past PIECE_BYTES
NUMBER = struct.Struct("H")
HEADER = struct.Struct("qqq")  # what the copy sends for each piece: its number, its summary's place and length

Batches = Iterator[tuple[int, list[Record]]]


@dataclass(frozen=True)
class Half:
    """What `later` made of one piece (in the copy, or here ahead of its turn): `count` records, and its `summary`."""

    count: int
    summary: Any


class _Dropped(Exception):
    """The piece the copy maps was taken over by its parent."""


def split_enabled() -> bool:
    """Whether passes may use a second process (`SMARTVIEW_PASS_JOBS=1` says no)."""
    return os.environ.get("SMARTVIEW_PASS_JOBS", "auto") != "1"


def follow_halves(path: str, start: int, later: Callable[[Batches], Any]) -> Iterator[tuple[int, list[Record] | Half]]:
    """`follow_records` for a topic file, with part of a large backlog mapped by `later` in a fork.

    Yields, in offset order, (offset, records) as `follow_records` does, and `(offset, Half)` for each
    piece mapped by `later` (in the copy, or here ahead of its turn): its summary, whose offsets the
    caller adds `offset` to. `later` gets batches of records numbered from 0 and returns something
    picklable.
    """
    reader = TopicReader(Path(path), block_size=FILE_BLOCK)
    reader.skip(start)
    fd = reader.fileno()
    end = reader._last_line_end(fd, final=False)
    if not split_enabled() or end - reader.byte < SPLIT_AT:
        yield from follow_reader(reader)
        return
    split = _Split(fd, _cuts(fd, reader.byte, end), later)
    try:
        offset = yield from split.report(reader.offset)
    finally:
        split.close()  # the summaries' disk space goes back while the pass follows the file
    reader.moved_to(end, offset)
    yield from follow_reader(reader)


def _cuts(fd: int, start: int, end: int) -> list[int]:
    """Line boundaries cutting bytes [start, end) into pieces (fewer for long lines)."""
    cuts = [start]
    pieces = min(max(PIECES, (end - start) // PIECE_BYTES), MOST_PIECES)
    for k in range(1, pieces):
        cut = TopicReader._line_end_after(fd, start + (end - start) * k // pieces, end)
        if cuts[-1] < cut < end:
            cuts.append(cut)
    cuts.append(end)
    return cuts


class _Claims:
    """The pieces, handed out in order, and a few words of shared memory on how the copy is doing.

    The pieces' numbers wait in a pipe both processes read from. A read of a pipe is atomic, so each
    piece goes to exactly one of them without a lock between the two: a lock held by a copy stopped or
    killed at the wrong moment would hold this process up for good. The pipe is filled before the fork
    and has no writer left, so a read never blocks: once every number is taken it reads as ended.

    The shared words, each written by one side only: the copy's piece, bytes of it mapped, bytes it
    mapped in all; and the piece this process took over from it.
    """

    def __init__(self, pieces: int) -> None:
        import mmap

        self._numbers, writable = os.pipe()
        os.write(writable, b"".join(NUMBER.pack(k) for k in range(pieces)))  # within a page: never blocks
        os.close(writable)
        self._shared = mmap.mmap(-1, 32)
        struct.pack_into("qqqq", self._shared, 0, -1, 0, 0, -1)

    def next(self) -> int | None:
        """Take the next piece no process has taken, if any."""
        data = os.read(self._numbers, NUMBER.size)
        return NUMBER.unpack(data)[0] if data else None

    def close(self) -> None:
        os.close(self._numbers)

    def _word(self, n: int) -> int:
        return struct.unpack_from("q", self._shared, 8 * n)[0]

    def _set(self, n: int, value: int) -> None:
        struct.pack_into("q", self._shared, 8 * n, value)

    def copy_starts(self, piece: int) -> None:
        self._set(1, 0)
        self._set(0, piece)

    def copy_mapping(self, piece: int, done: int, total: int) -> None:
        """The copy's progress: `done` bytes of `piece`, `total` bytes since it started. Raises _Dropped
        when its parent took the piece over."""
        self._set(1, done)
        self._set(2, total)
        if self._word(3) == piece:
            raise _Dropped()

    def copy_progress(self, piece: int) -> tuple[int, int]:
        """Bytes of `piece` the copy has mapped, and bytes it mapped in all."""
        return (self._word(1) if self._word(0) == piece else 0), self._word(2)

    def drop(self, piece: int) -> None:
        """Tell the copy to stop mapping `piece`: this process maps it."""
        self._set(3, piece)


class _Range:
    """The records of bytes [start, end) of a file, `end` a line's end, numbered from `first`.

    `check`, if any, is called with the bytes read so far before each block (the copy: its parent
    still there, its piece not taken over).
    """

    def __init__(self, fd: int, start: int, end: int, first: int, check: Callable[[int], None] | None = None) -> None:
        self.fd, self.start, self.end, self.first, self.check = fd, start, end, first, check
        self.count = 0

    def batches(self) -> Batches:
        from ..runs.batch import split_lines

        position = self.start
        while position < self.end:
            if self.check is not None:
                self.check(position - self.start)
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


class _Split:
    """One split backlog: this process's side of it, reporting every piece in order."""

    def __init__(self, fd: int, cuts: list[int], later: Callable[[Batches], Any]) -> None:
        import tempfile

        self.fd, self.cuts, self.later = fd, cuts, later
        self.claims = _Claims(len(cuts) - 1)
        self.mine: set[int] = set()  # pieces this process has taken and not mapped yet
        self.highest = -1  # the highest piece this process has taken: every piece before it is taken too
        self.all_taken = False
        self._take()  # this process starts at the front at once; the copy, once forked, at piece 1
        self.store = tempfile.TemporaryFile()  # the copy's summaries: it writes them, this process reads
        self.ahead: dict[int, Half] = {}  # pieces mapped here before their turn
        self.received: dict[int, tuple[int, int]] = {}  # the copy's pieces: where their summaries lie
        self._pending = b""
        self.own_bytes, self.own_seconds = 0, 0.0  # this process's pace
        self.forked_at = time.monotonic()
        self.pid, self.results = _fork_copy(fd, cuts, self.claims, later, self.store.fileno())

    def report(self, offset: int) -> Iterator[tuple[int, list[Record] | Half]]:
        """Every piece in order, from record `offset` on; returns the offset after the last."""
        for piece in range(len(self.cuts) - 1):
            half = self._summary_or_none(piece)
            if half is None:  # this process's to map, in line
                started = time.monotonic()
                mapped = _Range(self.fd, self.cuts[piece], self.cuts[piece + 1], offset)
                yield from mapped.batches()
                self._timed(piece, started)
                offset += mapped.count
            else:
                yield offset, half
                offset += half.count
        return offset

    def _summary_or_none(self, piece: int) -> Half | None:
        """The summary of `piece` when its turn comes, or None once it is this process's to map."""
        while True:
            if piece in self.ahead:
                return self.ahead.pop(piece)
            self._receive(0)
            if piece in self.received:
                position, length = self.received.pop(piece)
                return pickle.loads(os.pread(self.store.fileno(), length, position))
            if piece in self.mine:
                self.mine.discard(piece)
                return None
            if piece > self.highest and not self.all_taken:  # perhaps not taken yet: take the next one
                self._take()
                continue
            # The copy has taken the piece and not finished it.
            if self.results is None:  # the copy is gone: what it had taken is mapped here
                return None
            if len(self.ahead) < AHEAD and (spare := self._spare()) is not None:
                self.ahead[spare] = self._map_ahead(spare)
            elif self._copy_slower(piece):
                self.claims.drop(piece)
                return None
            else:
                self._receive(WAIT)

    def _take(self) -> int | None:
        piece = self.claims.next()
        if piece is None:
            self.all_taken = True
        else:
            self.mine.add(piece)
            self.highest = max(self.highest, piece)
        return piece

    def _spare(self) -> int | None:
        """A piece to map ahead of its turn: the first this process holds, else the next not taken."""
        if not self.mine and self._take() is None:
            return None
        piece = min(self.mine)
        self.mine.discard(piece)
        return piece

    def _map_ahead(self, piece: int) -> Half:
        started = time.monotonic()
        mapped = _Range(self.fd, self.cuts[piece], self.cuts[piece + 1], 0)
        summary = self.later(mapped.batches())
        self._timed(piece, started)
        return Half(mapped.count, summary)

    def _timed(self, piece: int, started: float) -> None:
        self.own_bytes += self.cuts[piece + 1] - self.cuts[piece]
        self.own_seconds += time.monotonic() - started

    def _copy_slower(self, piece: int) -> bool:
        """Whether the copy, at its pace so far, would finish `piece` later than this process could map it."""
        size = self.cuts[piece + 1] - self.cuts[piece]
        done, total = self.claims.copy_progress(piece)
        copy_pace = total / max(time.monotonic() - self.forked_at, 1e-9)
        if copy_pace <= 0:
            return True
        if self.own_seconds <= 0:
            return False
        return (size - done) / copy_pace > size * self.own_seconds / self.own_bytes

    def _receive(self, timeout: float) -> None:
        """Note the summaries the copy has sent (waiting up to `timeout` seconds for one)."""
        if self.results is None:
            return
        poller = select.poll()
        poller.register(self.results, select.POLLIN)
        if not poller.poll(timeout * 1000):
            return
        chunk = os.read(self.results, 1 << 16)
        if not chunk:  # the copy ended: whatever it had not sent is mapped here
            os.close(self.results)
            self.results = None
            return
        self._pending += chunk
        while len(self._pending) >= HEADER.size:
            piece, position, length = HEADER.unpack_from(self._pending)
            self.received[piece] = (position, length)
            self._pending = self._pending[HEADER.size:]

    def close(self) -> None:
        """End the copy (all it could still do is a piece already mapped here) and give back its file."""
        if self.pid >= 0:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            os.waitpid(self.pid, 0)
            self.pid = -1
        if self.results is not None:
            os.close(self.results)
            self.results = None
        self.claims.close()
        self.store.close()


def _fork_copy(
    fd: int, cuts: list[int], claims: _Claims, later: Callable[[Batches], Any], store: int
) -> tuple[int, int | None]:
    """Fork the copy that maps pieces as it takes them; returns its pid (-1 if none) and the pipe it
    announces its summaries on (None if there is no copy)."""
    from ..modules.forks import own_fork
    from ..runs.priority import group_of_its_own

    readable, writable = os.pipe()
    parent = os.getpid()
    try:
        pid = os.fork()
    except OSError:
        os.close(readable)
        os.close(writable)
        return -1, None
    if pid:
        os.close(writable)
        return pid, readable
    code = 1
    try:
        own_fork()  # a worker of smartview's own: it maps on (forks.py)
        group_of_its_own()
        os.close(readable)
        _copy(fd, cuts, claims, later, store, writable, parent)
        code = 0
    finally:
        os._exit(code)


def _copy(fd: int, cuts: list[int], claims: _Claims, later: Callable[[Batches], Any], store: int, results: int,
          parent: int) -> None:
    """The copy's loop: take the next piece, map it, write its summary to `store`, announce it on `results`."""
    written = 0
    mapped_before = [0]  # bytes of the pieces before this one: the copy's pace is read from it

    def check(piece: int, done: int) -> None:
        if os.getppid() != parent:
            os._exit(0)  # the pass was stopped: so is its copy
        claims.copy_mapping(piece, done, mapped_before[0] + done)

    while (piece := claims.next()) is not None:
        claims.copy_starts(piece)
        mapped = _Range(fd, cuts[piece], cuts[piece + 1], 0, functools.partial(check, piece))
        try:
            summary = later(mapped.batches())
        except _Dropped:
            continue
        mapped_before[0] += cuts[piece + 1] - cuts[piece]
        data = pickle.dumps(Half(mapped.count, summary), protocol=pickle.HIGHEST_PROTOCOL)
        view = memoryview(data)
        while view:
            view = view[os.pwrite(store, view, written + len(data) - len(view)):]
        os.write(results, HEADER.pack(piece, written, len(data)))
        written += len(data)
