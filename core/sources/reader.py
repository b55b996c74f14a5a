"""Sequential reading of a topic file in blocks of whole lines, resumable as the file grows.

The reader remembers the byte position and record offset where it stopped, so following a topic is
just reading again after a change. A line without its newline is a record still being written: it is
held back until its newline arrives, unless the caller says this is the final read.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from ..text import printable

from .topic import Seen, how_changed, open_topic

BLOCK_SIZE = 1 << 20
# A record longer than this is reported and skipped, never read into memory: a file without newlines
# (a sparse file, a binary dump) must not take all the memory there is. `--max-record-bytes` changes it.
MAX_RECORD_BYTES = 64 << 20
# The last TAPER block sizes of a span list are cut into ever smaller blocks (see `TopicReader.spans`).
TAPER = 8


class Block:
    """Whole lines of a topic: `count` records from record `first_offset`, at bytes [start, start+length).

    A plain slotted class rather than a dataclass: making one costs every `--print` start about half a
    millisecond. Read-only by convention: `counted` makes a changed copy.
    """

    __slots__ = ("data", "first_offset", "count", "start", "length", "too_long")

    def __init__(self, data: bytes | None, first_offset: int, count: int, start: int, length: int,
                 too_long: bool = False) -> None:
        self.data = data  # None when only the span was asked for, or the record is too long
        self.first_offset = first_offset
        self.count = count
        self.start = start  # byte position in the file
        self.length = length
        self.too_long = too_long  # one record longer than the reader's limit, not read: report it and go on

    def counted(self, first_offset: int, count: int) -> Block:
        """This block's bytes, known now to hold `count` records from `first_offset` (a span once counted)."""
        return Block(self.data, first_offset, count, self.start, self.length, self.too_long)


class TopicReader:
    """Reads a topic from a position onwards and notices when the file is truncated or replaced."""

    def __init__(self, path: Path, block_size: int = BLOCK_SIZE, max_record: int = MAX_RECORD_BYTES) -> None:
        self.path = path
        self.block_size = block_size
        self.max_record = max(max_record, block_size)  # a shorter record is always read whole with its block
        self.byte = 0
        self.offset = 0
        self._file = open(open_topic(path), "rb")
        self.inode = os.fstat(self._file.fileno()).st_ino
        self._seen = Seen()  # if what was read changes, the file was rewritten under us

    def close(self) -> None:
        self._file.close()

    def fileno(self) -> int:
        """The open file: whoever reads for the reader (forked workers) reads this, not the path."""
        return self._file.fileno()

    def __enter__(self) -> TopicReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def count_remaining(self, final: bool = True) -> int:
        """Records from the current position to the end of the file, without moving."""
        self._file.seek(self.byte)
        lines = 0
        last = b"\n"
        while data := self._file.read(self.block_size):
            lines += data.count(b"\n")
            last = data[-1:]
        return lines + (final and last != b"\n")

    def skip(self, records: int) -> int:
        """Move past up to `records` whole records; returns how many were skipped."""
        skipped = 0
        position = self.byte
        self._file.seek(position)
        while skipped < records:
            data = self._file.read(self.block_size)
            if not data:
                break
            newlines = data.count(b"\n")
            wanted = records - skipped
            if newlines >= wanted:
                self.byte = position + _nth_newline_end(data, wanted)
                skipped = records
                break
            if newlines:
                self.byte = position + data.rfind(b"\n") + 1
            skipped += newlines
            position += len(data)
        self.offset += skipped
        self._seen.note(self._file.fileno(), self.byte)
        return skipped

    def blocks(self, limit: int | None = None, final: bool = False, with_data: bool = True) -> Iterator[Block]:
        """Blocks of whole records from the current position to the end of the file, at most `limit` records.

        With `final`, an unfinished last line counts as the last record; otherwise it waits for a later
        call. Without `with_data` only the spans are found (no copies), for workers that read for themselves.
        A record longer than `max_record` comes as a block of its own with `too_long` set and no data.
        """
        remaining = limit
        size = self.block_size
        fd = self._file.fileno()
        while remaining is None or remaining > 0:
            if not self._seen.still_there(fd, self.byte):
                return  # rewritten since the last block (the caller did its work meanwhile): see `change`
            data = os.pread(fd, size, self.byte)
            if not data:
                return
            cut = data.rfind(b"\n") + 1
            if cut == 0:
                if len(data) == size > self.max_record:  # longer than the limit: skip it, unread
                    block = self._skip_long_record(fd, final)
                    if block is None:
                        return  # its end is not written yet
                    yield block
                    size = self.block_size
                    if remaining is not None:
                        remaining -= 1
                    continue
                if len(data) == size:  # a line longer than a block: read a bigger piece
                    size = min(size * 2, self.max_record + 1)  # the limit, and room for its newline
                    data = b""  # let go of this piece before reading the bigger one
                    continue
                if final:  # the unfinished last line
                    block = self._consume(data if with_data else None, len(data), 1)
                    self._seen.note(fd, self.byte, data)
                    yield block
                return
            size = self.block_size
            count = data.count(b"\n", 0, cut)
            if remaining is not None and count > remaining:
                cut = _nth_newline_end(data, remaining)
                count = remaining
            piece = (data if cut == len(data) else data[:cut]) if with_data else None
            block = self._consume(piece, cut, count)
            self._seen.note(fd, self.byte, memoryview(data)[:cut])
            yield block
            if remaining is not None:
                remaining -= count

    def _skip_long_record(self, fd: int, final: bool) -> Block | None:
        """The too-long record at the reader's position, found by looking for its end a piece at a time."""
        position = self.byte + self.max_record
        while chunk := os.pread(fd, self.block_size, position):
            found = chunk.find(b"\n")
            if found >= 0:
                position += found + 1
                break
            position += len(chunk)
        else:
            if not final:
                return None
        block = self._consume(None, position - self.byte, 1)
        block = Block(None, block.first_offset, 1, block.start, block.length, too_long=True)
        self._seen.note(fd, self.byte)
        return block

    def spans(self, final: bool = False) -> list[Block] | None:
        """Blocks of whole records from the current position to the end of the file, found without reading it.

        Each cut is the end of the first line that ends at or after the block's size, so only a few bytes
        are read per block. The blocks are a block size long until the last `TAPER` block sizes, where
        each is an eighth of what is left (down to a sixteenth of a block): processes that share blocks
        in turn then finish within a small block of each other, not a whole one. Their record counts are
        not known (`count` and `first_offset` are -1): whoever maps them counts them, and then calls
        `passed` to move the reader on.
        None when a line longer than a block is met: `blocks` then reads them, and finds the records
        longer than the limit, so that no worker is handed one.
        """
        fd = self._file.fileno()
        end = self._last_line_end(fd, final)
        blocks = []
        start = self.byte
        while start < end:
            size = min(self.block_size, max(self.block_size // 16, (end - start) // TAPER))
            cut = self._line_end_after(fd, min(start + size, end) - 1, end, self.block_size)
            if cut < 0:
                return None
            blocks.append(Block(None, -1, -1, start, cut - start))
            start = cut
        return blocks

    def passed(self, blocks: list[Block], records: int) -> None:
        """Move past `blocks` (from `spans`), which held `records` records."""
        if blocks:
            last = blocks[-1]
            self.byte = last.start + last.length
            self.offset += records
            self._seen.note(self._file.fileno(), self.byte)

    def moved_to(self, byte: int, offset: int) -> None:
        """Stand at `byte`, record `offset`: where others (a forked copy) read up to for the reader."""
        self.byte = byte
        self.offset = offset
        self._seen.note(self._file.fileno(), self.byte)

    def _last_line_end(self, fd: int, final: bool) -> int:
        """Where the last whole record ends (the end of the file, for a final read)."""
        size = os.fstat(fd).st_size
        if final:
            return size
        position = size
        while position > self.byte:
            start = max(self.byte, position - self.block_size)
            found = os.pread(fd, position - start, start).rfind(b"\n")
            if found >= 0:
                return start + found + 1
            position = start
        return self.byte

    @staticmethod
    def _line_end_after(fd: int, position: int, end: int, most: int | None = None) -> int:
        """Just past the first newline at or after `position`, or `end`; -1 if none within `most` bytes.

        A piece at a time, so a line of any length costs no memory.
        """
        start = position
        while position < end:
            if most is not None and position - start > most:
                return -1
            chunk = os.pread(fd, min(1 << 16, end - position), position)
            if not chunk:
                break
            found = chunk.find(b"\n")
            if found >= 0:
                return position + found + 1
            position += len(chunk)
        return end

    def _consume(self, data: bytes | None, length: int, count: int) -> Block:
        block = Block(data, self.offset, count, self.byte, length)
        self.byte += length
        self.offset += count
        return block

    def change(self) -> str | None:
        """How the file changed under the reader (see `topic.how_changed`); the caller then restarts."""
        return how_changed(self.path, self.inode, self._file.fileno(), self.byte, self._seen)

    def restart(self) -> None:
        """Read the file at the path again from its beginning (it may be a new file).

        A TopicError (the new file cannot be read) leaves the reader on the file it had.
        """
        file = open(open_topic(self.path), "rb")
        self._file.close()
        self._file = file
        self.inode = os.fstat(self._file.fileno()).st_ino
        self.byte = 0
        self.offset = 0
        self._seen = Seen()


def too_long_report(topic: str, offset: int, limit: int) -> str:
    """The one line that says a record was skipped for its length."""
    return (f"smartview: {printable(topic)} offset {offset}: the record is longer than {limit:,} bytes; "
            f"skipped, not read (--max-record-bytes sets the limit)")


def _nth_newline_end(data: bytes, n: int) -> int:
    """The position just after the n-th newline of `data` (0 for n == 0)."""
    position = 0
    for _ in range(n):
        position = data.index(b"\n", position) + 1
    return position
