"""A topic file's line index kept on disk, so that opening the same file again costs no counting.

An entry is keyed by the file's device and inode and holds the newline counts of its first full
blocks, with a fingerprint of what was counted: the file's first 4 KiB and the 4 KiB before the end of
the counted blocks (as `topic.Seen` keeps, hashed, so no record is copied into the cache). An entry
is used only when the file still holds at least the counted bytes and both fingerprints match; the
rest of a grown file is counted as usual. A file rewritten with the same first 4 KiB and the same 4 KiB
before the counted end cannot be told from the one counted (the same limit as the rewrite check).

Entries live under `$XDG_CACHE_HOME/smartview/index` (default `~/.cache`), never beside the topic;
the oldest are removed beyond `KEEP` entries. Small files are not cached: counting them is quicker
than reading an entry. A file without a name any more (a temporary spool, deleted once open) is never
kept. A cache that cannot be read or written is ignored.
"""

from __future__ import annotations

import os
import struct
from array import array
from pathlib import Path

from ..config import cache_folder
from .topic import FINGERPRINT

MIN_BYTES = 64 << 20  # below this, counting (about 30 ms) is not worth an entry
KEEP = 64  # entries kept; one is 8 bytes per 64 KiB of topic (1 MiB for 8.6 GB)
_MAGIC = b"SVIDX001"
_HEADER = struct.Struct("<8sQQQQ32s32s")  # magic, block, device, inode, blocks, head hash, tail hash


def default_folder() -> Path:
    return cache_folder("index")


class IndexCache:
    """Saved block counts of topic files, looked up by the file a descriptor is open on."""

    def __init__(self, folder: Path | None = None, min_bytes: int = MIN_BYTES, keep: int = KEEP) -> None:
        self.folder = folder or default_folder()
        self.min_bytes = min_bytes
        self.keep = keep

    def _entry(self, info: os.stat_result) -> Path:
        return self.folder / f"{info.st_dev:x}-{info.st_ino:x}.idx"

    def load(self, fd: int, block: int) -> array | None:
        """The cumulative counts at each block boundary saved for this file, if they still fit it."""
        info = os.fstat(fd)
        try:
            data = self._entry(info).read_bytes()
        except OSError:
            return None
        if len(data) < _HEADER.size:
            return None
        magic, saved_block, dev, ino, blocks, head, tail = _HEADER.unpack_from(data)
        end = blocks * block
        if (magic, saved_block, dev, ino) != (_MAGIC, block, info.st_dev, info.st_ino) or end > info.st_size:
            return None
        if len(data) != _HEADER.size + 8 * (blocks + 1) or (head, tail) != _fingerprint(fd, end):
            return None
        counts = array("q")
        counts.frombytes(data[_HEADER.size :])
        return counts if counts[0] == 0 else None

    def save(self, fd: int, block: int, counts: array) -> None:
        """Keep the counts of the first `len(counts) - 1` blocks of the file (nothing for a small file)."""
        blocks = len(counts) - 1
        end = blocks * block
        info = os.fstat(fd)
        if end < self.min_bytes or info.st_nlink == 0:  # small, or a file already deleted (a spool): nothing kept
            return
        head, tail = _fingerprint(fd, end)
        header = _HEADER.pack(_MAGIC, block, info.st_dev, info.st_ino, blocks, head, tail)
        import tempfile  # only when saving: kept off the path to the first screen

        try:
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            handle, temporary = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
            with os.fdopen(handle, "wb") as out:
                out.write(header + counts.tobytes())
            os.replace(temporary, self._entry(info))
            self._prune()
        except OSError:
            return

    def _prune(self) -> None:
        """Remove the least recently written entries beyond `keep` (and stray temporary files)."""
        entries = []
        for entry in os.scandir(self.folder):
            if entry.name.endswith(".tmp"):
                continue
            if entry.name.endswith(".idx"):
                entries.append((entry.stat().st_mtime_ns, entry.path))
        for _, path in sorted(entries)[: max(0, len(entries) - self.keep)]:
            os.unlink(path)


def _fingerprint(fd: int, end: int) -> tuple[bytes, bytes]:
    """Hashes of the file's first bytes and of the bytes just before `end` (4 KiB each, as Seen keeps)."""
    import hashlib  # only with an entry to check, or one to save: a first open's start goes without it (2 ms)

    want = min(FINGERPRINT, end)
    head = hashlib.sha256(os.pread(fd, want, 0)).digest()
    tail = hashlib.sha256(os.pread(fd, want, end - want)).digest()
    return head, tail
