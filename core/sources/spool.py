"""The viewer's copy of a topic read front to back (a pipe, standard input, a compressed file).

The viewer scrolls back, re-maps from the beginning, opens details and finds text, all by reading its
topic file by position. A pipe cannot be read twice, so a thread copies what arrives into a spool file
under TMPDIR, in a folder of its own, and the viewer opens the spool as its topic: the index, the
background passes and following work on it unchanged. Only whole records are written, so the spool
never holds a torn line; a last record without its line end is ended when the input ends.

The spool is removed when the viewer exits, also on SIGTERM and SIGHUP. Past its cap, or on a full disk,
spooling stops and the input is no longer read (its writer waits, as behind `less`), and the viewer
keeps working with what it has; on a full disk it tries again every few seconds, so nothing is lost.
"""

from __future__ import annotations

import atexit
import errno
import os
import shutil
import signal
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .compression import Damaged
from .stream import Input, StreamTopic, byte_count, damage_message
from .topic import Topic

DEFAULT_CAP = 1 << 30  # 1 GiB: hours of a busy service's log, and still fits most temporary folders
RETRY_SECONDS = 2.0
NO_SPACE = (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)


class Spool:
    """Copies `topic`'s records into a temporary file in a background thread; `path` is that file."""

    def __init__(self, topic: StreamTopic, cap: int = DEFAULT_CAP) -> None:
        self.topic = topic
        self.cap = cap
        self.folder = Path(tempfile.mkdtemp(prefix="smartview-spool-"))
        self.path = self.folder / "records.jsonl"
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC, 0o600)
        self.size = 0  # bytes written, always whole records
        self.records = 0
        self.ended = False  # the input ended (or cannot be read further)
        self.paused = ""  # why the input is not read now: the cap, a full disk
        self.problem = ""  # what went wrong with the input itself: damaged data, a record cut short
        self._unfinished = 0  # bytes written after the last line end
        self._input = Input(topic)
        self._thread = threading.Thread(target=self._run, name="spool", daemon=True)
        _remove_on_exit(self)

    def start(self) -> None:
        self._thread.start()

    def describe(self) -> str:
        """A few words for the status bar: the spool's size and what the input is doing."""
        words = [f"spool {_size(self.size)}"]
        if self.paused:
            words.append(self.paused)
        elif self.ended:
            words.append("ended" if self.topic.compressed else "pipe ended")
        elif (progress := self._input.progress()) is not None:
            words.append(f"{self.topic.kind} {100 * progress:.0f}%")
        elif not self._input.opened:
            words.append("waiting for a writer")
        return ", ".join(words)

    def progress(self) -> float | None:
        """How much of a compressed file is decoded (0 to 1); None for a pipe."""
        return self._input.progress()

    def remove(self) -> None:
        """Delete the spool (a descriptor the viewer holds still reads it until closed)."""
        shutil.rmtree(self.folder, ignore_errors=True)

    # -- the copying thread ---------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            for chunk in self._input.chunks():
                if not self._write(chunk):
                    return  # the cap is reached: stop reading, the writer waits
        except Damaged as damage:
            self.problem = damage_message(self.topic, damage, self.records).removeprefix("smartview: ")
        except OSError as exc:
            self.problem = f"{self.topic.name} cannot be read: {(exc.strerror or str(exc)).lower()}"
        except Exception as exc:  # a topic error opening a pipe: said in the status bar, never a crash
            self.problem = getattr(exc, "message", str(exc))
        if self._unfinished:
            if not self.problem:
                self.problem = (f"{self.topic.name} ended in the middle of a record: offset {self.records:,} "
                                f"({byte_count(self._unfinished)}) has no line end; it is shown as it is")
            self._write(b"\n")
        self.ended = True

    def _write(self, data: bytes) -> bool:
        """Append what arrived; False when the cap stops the spooling. A full disk waits and tries again.

        At the cap the spool ends after the last whole record that fits.
        """
        if self.size + len(data) >= self.cap and not (self.size + len(data) == self.cap and data.endswith(b"\n")):
            room = data.rfind(b"\n", 0, self.cap - self.size) + 1
            if room:
                self._write(data[:room])
            if self._unfinished:  # the spool ends with the last whole record
                self.size -= self._unfinished
                os.ftruncate(self._fd, self.size)
                self._unfinished = 0
            self.paused = f"spool full at {_size(self.cap)}: input paused (--spool-max)"
            return False
        while True:
            try:
                _write_all(self._fd, data)
            except OSError as exc:
                if exc.errno not in NO_SPACE:
                    raise
                os.ftruncate(self._fd, self.size)  # as it was before this write: nothing is doubled later
                self.paused = f"no space for the spool in {self.folder.parent}: input paused, trying again"
                time.sleep(RETRY_SECONDS)
                continue
            self.paused = ""
            self.size += len(data)
            newlines = data.count(b"\n")
            self.records += newlines
            self._unfinished = len(data) - data.rfind(b"\n") - 1 + (0 if newlines else self._unfinished)
            return True


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _size(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return ""


_spools: list[Spool] = []


def _remove_on_exit(spool: Spool) -> None:
    """Remove the spool at exit, and on SIGTERM and SIGHUP (which would otherwise end the process at once)."""
    if not _spools:
        atexit.register(_remove_all)
        for signum in (signal.SIGTERM, signal.SIGHUP):
            _chain(signum)
    _spools.append(spool)


def _remove_all() -> None:
    for spool in _spools:
        spool.remove()


def _chain(signum: int) -> None:
    previous = signal.getsignal(signum)

    def handle(number: int, frame: Any) -> None:
        _remove_all()
        if callable(previous):
            previous(number, frame)
            return
        signal.signal(number, signal.SIG_DFL)
        os.kill(os.getpid(), number)

    signal.signal(signum, handle)


@dataclass(frozen=True)
class SpooledTopic(Topic):
    """A stream topic as the viewer opens it: named as given, read from its spool."""

    spool: Spool | None = field(default=None, compare=False)
