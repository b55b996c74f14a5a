"""The last records of a topic file, read from its end before the file is counted.

Counting the newlines of an 8.6 GB file takes seconds; reading its last few kilobytes takes
microseconds. The viewer shows these records at once, without their offsets (unknown until the count
arrives), and then switches to the real index. Offsets here are positions in the preview, from 0.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..record import Record

# Read this much from the end, doubling up to READ_LIMIT while it holds fewer complete lines than wanted.
READ_FIRST = 16 << 10
READ_LIMIT = 1 << 20


class TailPreview:
    """Up to `lines` complete records that end the file (nothing after its last newline)."""

    provisional = True  # offsets are positions in the preview, not in the topic

    def __init__(self, path: Path, fd: int, lines: int) -> None:
        self.path = path
        self.values = _last_lines(fd, lines)

    @property
    def count(self) -> int:
        return len(self.values)

    @property
    def source(self) -> str:
        return str(self.path)

    def read(self, first: int, last: int) -> list[bytes]:
        return self.values[max(first, 0) : last]

    def read_records(self, first: int, last: int) -> list[Record]:
        return [Record(first + i, None, value) for i, value in enumerate(self.read(first, last))]

    def read_one(self, offset: int) -> bytes:
        values = self.read(offset, offset + 1)
        return values[0] if values else b""

    def unfinished(self) -> int:
        return 0


def _last_lines(fd: int, lines: int) -> list[bytes]:
    """The last `lines` complete lines of the file (fewer if the last READ_LIMIT bytes hold fewer)."""
    size = os.fstat(fd).st_size
    want = READ_FIRST
    while True:
        start = max(0, size - want)
        data = os.pread(fd, size - start, start)
        end = data.rfind(b"\n")
        if end < 0:
            if start == 0 or want >= READ_LIMIT:
                return []
            want *= 2
            continue
        body = data[: end + 1]
        parts = body.split(b"\n")[:-1]
        if start > 0:
            parts = parts[1:]  # the first piece may be the end of a longer line
        if len(parts) >= lines or start == 0 or want >= READ_LIMIT:
            return [p[:-1] if p.endswith(b"\r") else p for p in parts[-lines:]] if lines else []
        want *= 2
