"""The first records of a topic file, counted only as far as they are read, while the whole file is counted.

An aggregate's rows (and a look_back map's) come from a pass that maps every record from offset 0:
its first rows are known long before an 8 GB file's newlines are all counted, and the records they came
from lie at the start of the file. Counting the newlines up to them costs a fraction of a millisecond
per megabyte, so those rows show at once with their true offsets. Unlike a preview of the file's end
(tail.py), the offsets here are the topic's own: once the full count arrives, the rows mapped stay.
"""

from __future__ import annotations

import threading

from .index import READ, LineIndex


class HeadIndex(LineIndex):
    """A `LineIndex` of the same file, reading through its descriptor, that counts on demand from byte 0.

    `count` is how far it has counted, not the topic's size: the rows to show come from the pass.
    """

    def __init__(self, index: LineIndex) -> None:
        super().__init__(index.path, index.block, index.max_record, fd=index.fd)
        self._counting = threading.Lock()  # several threads may read at once: one counts for them all

    def read(self, first: int, last: int) -> list[bytes]:
        self.reach(last)
        return super().read(first, last)

    def reach(self, last: int) -> None:
        """Count lines until `last` records are known, or the file (as it is now) ends."""
        with self._counting:
            while self.count < last and self.scanned < self.size():
                self.update(budget=READ)

    def close(self) -> None:
        """The descriptor is the full index's, which closes it."""
