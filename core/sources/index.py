"""Random access to a topic's records by offset, for the viewer.

Instead of one file position per record, the index keeps one number per 64 KiB block of the file: how
many newlines come before the block. Counting newlines runs at memory speed (`bytes.count`), so a
multi-GB topic is indexed in a fraction of a second, and the index costs about a thousandth of a byte
per record. Reading record N reads the one block that holds its start; a screen of rows costs a single
`pread` of a few kilobytes.
"""

from __future__ import annotations

import bisect
import os
import select
import threading
from array import array
from pathlib import Path

from ..record import Record
from .index_cache import IndexCache
from .reader import MAX_RECORD_BYTES
from .topic import Seen, how_changed, open_topic

BLOCK = 64 << 10
READ = 16 * BLOCK
# Files at least this big are counted in forked processes (see `build_in_background`): counting in a
# thread would hold the GIL while the viewer imports Textual, and the first screen no longer waits for it.
FORK_MIN_BYTES = 16 << 20
# The viewer's count in forked processes waits for its first frame (`build_in_background(hold=True)`,
# then `go`): counting at the same time, even at low priority, took about 35 ms from that frame at 1M
# records (the processor time, memory bandwidth and caches it shares with the viewer). The frame shows
# the file's last records meanwhile (tail.py); their offsets follow. It starts after HOLD_SECONDS anyway.
HOLD_SECONDS = 1.0


class TooLong(bytes):
    """Stands in for a record longer than the index's limit, which is never read: empty, with its length."""

    length: int
    limit: int

    def __new__(cls, length: int, limit: int) -> TooLong:
        value = super().__new__(cls, b"")
        value.length, value.limit = length, limit
        return value

    def reason(self) -> str:
        return (f"the record is {self.length:,} bytes, longer than {self.limit:,}; skipped, not read "
                f"(--max-record-bytes sets the limit)")


class LineIndex:
    """Counts and locates the complete lines (records) of a growing file.

    `update` may run in a worker thread while `read` serves the screen: both take the lock, briefly.
    """

    def __init__(
        self,
        path: Path,
        block: int = BLOCK,
        max_record: int = MAX_RECORD_BYTES,
        cache: IndexCache | None = None,
        fd: int | None = None,
    ) -> None:
        """`fd`: read through this descriptor of `path`, opened and closed by its owner, rather than one of its own."""
        self.path = path
        self.block = block
        self.max_record = max_record
        self._lock = threading.Lock()
        self._fd = open_topic(path) if fd is None else fd
        self.inode = os.fstat(self._fd).st_ino
        # _before[k]: newlines in bytes [0, k * block). _before[0] == 0.
        self._before = array("q", [0])
        self._tail = 0  # newlines in the bytes from the last full block boundary up to `_scanned`
        self._scanned = 0  # bytes counted so far
        self._seen = Seen()  # what was counted, to notice a file rewritten in place
        self._cache = cache
        self._hold: int | None = None  # closed by `go`: the counting processes wait for it
        self.cached_blocks = 0  # blocks whose counts came from the cache rather than from counting

    def close(self) -> None:
        os.close(self._fd)

    @property
    def fd(self) -> int:
        """The descriptor the index reads through (a preview of the file's end reads through it too)."""
        return self._fd

    @property
    def count(self) -> int:
        """Complete records indexed so far (a line still missing its newline is not one yet)."""
        return self._before[-1] + self._tail

    @property
    def scanned(self) -> int:
        return self._scanned

    def size(self) -> int:
        return os.fstat(self._fd).st_size

    def memory_bytes(self) -> int:
        """What the index itself holds in memory, for the benchmark's bytes-per-record figure."""
        return self._before.buffer_info()[1] * self._before.itemsize

    def build_in_background(self, step: int = 64 << 20, hold: bool = False) -> threading.Event:
        """Index what the file holds now without holding up the caller; the event is set when done.

        Counting holds the GIL, so for a large file the counting runs in a forked child process on
        another core while this process starts its user interface; the child sends back one number per
        block. Call it before starting other threads (it forks). Small files are indexed in a thread.
        With `hold`, the child waits to count until `go` is called (see HOLD_SECONDS).
        """
        done = threading.Event()
        self._load_cache()
        size = self.size()
        full_blocks = size // self.block
        fork = self._scanned == 0 and size >= FORK_MIN_BYTES
        held = os.pipe() if fork and hold else None
        reader = _fork_counter(self._fd, self.block, full_blocks, held) if fork else None
        if held is not None:
            os.close(held[0])
            self._hold = held[1]

        def build() -> None:
            if reader is not None:
                self._install(*reader())
            while self.update(budget=step) or self._scanned < self.size():
                pass
            self._save_cache()
            done.set()

        threading.Thread(target=build, name="smartview-index", daemon=True).start()
        return done

    def go(self) -> None:
        """The first screen is drawn: a count held back for it (`hold`) starts now."""
        if self._hold is not None:
            os.close(self._hold)
            self._hold = None

    def _load_cache(self) -> None:
        """Take the counts saved by an earlier open of this very file (see index_cache.py), if any."""
        if self._cache is None or self._scanned:
            return
        counts = self._cache.load(self._fd, self.block)
        if counts is not None:
            self._install(counts, len(counts) - 1)
            self.cached_blocks = len(counts) - 1

    def _save_cache(self) -> None:
        """Keep the counts for the next open, when more was counted than the cache held."""
        if self._cache is None:
            return
        with self._lock:
            counts = array("q", self._before)
        if len(counts) - 1 > self.cached_blocks:
            self._cache.save(self._fd, self.block, counts)

    def _install(self, counts: array | None, blocks: int) -> None:
        """Take block counts computed elsewhere for the first `blocks` blocks (if nothing was read yet)."""
        if counts is None or len(counts) != blocks + 1:
            return
        with self._lock:
            if self._scanned == 0:
                self._before = counts
                self._scanned = blocks * self.block
                self._seen.note(self._fd, self._scanned)

    def update(self, budget: int | None = None) -> int:
        """Count what was appended since the last call (at most `budget` bytes); returns new records."""
        before = self.count
        size = self.size()
        stop = size if budget is None else min(size, self._scanned + budget)
        while self._scanned < stop:
            length = min(READ, stop - self._scanned)
            data = os.pread(self._fd, length, self._scanned)
            if not data:
                break
            self._absorb(data)
            self._seen.note(self._fd, self._scanned, data)
        return self.count - before

    def _absorb(self, data: bytes) -> None:
        """Add the counts of `data`, which starts at `_scanned`, closing each block it completes."""
        position = 0
        while position < len(data):
            block_end = (len(self._before)) * self.block  # absolute end of the block being filled
            take = min(len(data) - position, block_end - self._scanned)
            newlines = data.count(b"\n", position, position + take)
            with self._lock:
                self._tail += newlines
                self._scanned += take
                if self._scanned == block_end:
                    self._before.append(self._before[-1] + self._tail)
                    self._tail = 0
            position += take

    def start_of(self, offset: int) -> int:
        """Byte position where record `offset` starts (0 <= offset <= count)."""
        if offset == 0:
            return 0
        with self._lock:
            # the block holding the offset-th newline: last k with _before[k] < offset
            k = bisect.bisect_left(self._before, offset) - 1
            within = offset - self._before[k]
        position = k * self.block
        while True:
            data = os.pread(self._fd, self.block, position)
            if not data:  # the file shrank under the index: the caller learns it from `change`
                return position
            found = _nth_newline(data, within)
            if found >= 0:
                return position + found + 1
            within -= data.count(b"\n")
            position += len(data)

    def read(self, first: int, last: int) -> list[bytes]:
        """The values of records `first` up to (not including) `last`, clipped to what is indexed.

        A record longer than `max_record` is a `TooLong` instead: never read, so memory stays bounded.
        """
        last = min(last, self.count)
        if first >= last:
            return []
        start = self.start_of(first)
        end = self.start_of(last)
        if end - start > self.max_record:
            return self._read_each(first, last, start)
        data = os.pread(self._fd, end - start, start)
        lines = data.split(b"\n")[: last - first]
        return [line[:-1] if line.endswith(b"\r") else line for line in lines]

    def _read_each(self, first: int, last: int, start: int) -> list[bytes]:
        """`read` one record at a time, for a range too big to read at once."""
        values: list[bytes] = []
        for offset in range(first, last):
            end = self.start_of(offset + 1)
            if end - start - 1 > self.max_record:
                values.append(TooLong(end - start - 1, self.max_record))
            else:
                value = os.pread(self._fd, end - start, start).removesuffix(b"\n")
                values.append(value.removesuffix(b"\r"))
            start = end
        return values

    def read_records(self, first: int, last: int) -> list[Record]:
        """Records `first` up to `last` (file topics have no keys)."""
        return [Record(first + i, None, value) for i, value in enumerate(self.read(first, last))]

    @property
    def source(self) -> str:
        """What a background pass reads (see source.py): this file."""
        return str(self.path)

    def read_one(self, offset: int) -> bytes:
        """One record's whole value."""
        values = self.read(offset, offset + 1)
        return values[0] if values else b""

    def unfinished(self) -> int:
        """Bytes after the last newline: a record still being written (or a file that lacks a final newline)."""
        end = self.start_of(self.count) if self.count else 0
        return max(0, self._scanned - end)

    def change(self) -> str | None:
        """How the file changed under the index (see `topic.how_changed`); the caller then resets."""
        return how_changed(self.path, self.inode, self._fd, self._scanned, self._seen)

    def reset(self) -> None:
        """Start over on the file now at the path (after truncation or replacement).

        A TopicError (the new file cannot be read) leaves the index on the file it had.
        """
        fd = open_topic(self.path)
        with self._lock:
            os.close(self._fd)
            self._fd = fd
            self.inode = os.fstat(self._fd).st_ino
            self._before = array("q", [0])
            self._tail = 0
            self._scanned = 0
            self._seen = Seen()


def count_blocks(fd: int, block: int, blocks: int, first: int = 0) -> array:
    """Cumulative newline counts at each block boundary from block `first` on: [0, after it, ...]."""
    counts = array("q", [0])
    total = 0
    position = first * block
    end = blocks * block
    while position < end:
        data = os.pread(fd, min(READ, end - position), position)
        if not data:
            break
        for start in range(0, len(data), block):
            total += data.count(b"\n", start, start + block)
            counts.append(total)
        position += len(data)
    return counts


# Counting children yield to the viewer (the lowest priority): its first screen needs the processor more
# than the count does, and once the viewer is idle they have both cores.
COUNT_NICENESS = 19


def _fork_counter(fd: int, block: int, blocks: int, hold: tuple[int, int] | None = None):
    """Count in two child processes, one half of the blocks each (one per core); returns a function
    that waits for (counts, blocks), counts None if a child failed. With `hold`, a pipe (read end, write
    end), they start once its write end is closed in the parent (or after HOLD_SECONDS)."""
    if not hasattr(os, "fork"):
        return None
    middle = blocks // 2
    halves = [_fork_half(fd, block, 0, middle, hold), _fork_half(fd, block, middle, blocks, hold)]

    def result() -> tuple[array | None, int]:
        first, second = (wait() for wait in halves)
        if first is None or second is None or len(first) != middle + 1 or len(second) != blocks - middle + 1:
            return None, blocks
        base = first[-1]
        first.extend(base + count for count in second[1:])
        return first, blocks

    return result


def _fork_half(fd: int, block: int, first: int, last: int, hold: tuple[int, int] | None = None):
    """One counting child for blocks [first, last); returns a function that waits for its counts."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: count, send, and leave without running any of the parent's cleanup
        try:
            os.close(read_end)
            os.nice(COUNT_NICENESS)
            if hold is not None:
                os.close(hold[1])  # the parent's copy alone keeps the pipe open
                select.select([hold[0]], [], [], HOLD_SECONDS)
            data = memoryview(count_blocks(fd, block, last, first).tobytes())
            while data:
                data = data[os.write(write_end, data) :]
        finally:
            os._exit(0)
    os.close(write_end)

    def result() -> array | None:
        chunks = []
        while chunk := os.read(read_end, 1 << 20):
            chunks.append(chunk)
        os.close(read_end)
        _, status = os.waitpid(pid, 0)
        if status != 0:
            return None
        counts = array("q")
        counts.frombytes(b"".join(chunks))
        return counts

    return result


def _nth_newline(data: bytes, n: int) -> int:
    """Index of the n-th newline (1-based) in data, or -1 if it has fewer."""
    position = -1
    for _ in range(n):
        position = data.find(b"\n", position + 1)
        if position < 0:
            return -1
    return position
