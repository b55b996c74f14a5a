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
import mmap
import os
import struct
import shutil
import signal
import tempfile
import time
from pathlib import Path
from typing import Any

from .compression import Damaged
from .stream import Input, StreamTopic, byte_count, damage_message
from .reader import MAX_RECORD_BYTES
from .topic import Topic

DEFAULT_CAP = 1 << 30  # 1 GiB: hours of a busy service's log, and still fits most temporary folders
RETRY_SECONDS = 2.0
NO_SPACE = (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)


class SharedState:
    """What the copying process tells the viewer, in memory both see: an anonymous shared mapping made
    before the fork. Numbers are written whole; a text is written before its length."""

    _NUMBERS = struct.Struct("<qqdbb")  # size, records, progress (-1: none), ended, opened
    _TEXT = 1024
    _TEXTS = {"paused": 64, "problem": 64 + 2 + _TEXT}

    def __init__(self) -> None:
        self._map = mmap.mmap(-1, 64 + 2 * (2 + self._TEXT))
        self._NUMBERS.pack_into(self._map, 0, 0, 0, -1.0, 0, 0)

    def numbers(self) -> tuple[int, int, float, int, int]:
        return self._NUMBERS.unpack_from(self._map, 0)

    def set_numbers(self, size: int, records: int, progress: float | None, ended: bool, opened: bool) -> None:
        self._NUMBERS.pack_into(self._map, 0, size, records, -1.0 if progress is None else progress, ended, opened)

    def text(self, name: str) -> str:
        at = self._TEXTS[name]
        length = int.from_bytes(self._map[at : at + 2], "little")
        return self._map[at + 2 : at + 2 + length].decode(errors="replace")

    def set_text(self, name: str, value: str) -> None:
        at = self._TEXTS[name]
        data = value.encode()[: self._TEXT]
        self._map[at + 2 : at + 2 + len(data)] = data
        self._map[at : at + 2] = len(data).to_bytes(2, "little")


class Spool:
    """Copies `topic`'s records into a temporary file from a process of its own; `path` is that file.

    A process rather than a thread: decompressing and writing then use the other core instead of
    taking turns with the viewer's drawing for the interpreter's lock (1M gzipped records: the viewer
    had them all in 4.7 s with a thread).
    """

    def __init__(self, topic: StreamTopic, cap: int = DEFAULT_CAP) -> None:
        self.topic = topic
        self.cap = cap
        self.folder = Path(tempfile.mkdtemp(prefix="smartview-spool-"))
        self.path = self.folder / "records.jsonl"
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC, 0o600)
        self._state = SharedState()
        self.size = 0  # bytes written (kept by the copying process, told through the shared state)
        self.records = 0
        self._unfinished = 0  # bytes written after the last line end
        self._input = Input(topic)
        self.pid = 0
        _remove_on_exit(self)

    def start(self) -> None:
        """Fork the copying process (before the viewer starts any thread). It ends with its input, or with us."""
        parent = os.getpid()
        pid = os.fork()
        if pid:
            self.pid = pid
            os.close(self._fd)
            if self.topic.fd is not None:
                os.close(self.topic.fd)  # the child reads it: a writer sees the pipe closed when the child goes
            return
        try:
            _end_with_parent(parent)
            self._run()
        finally:
            os._exit(0)  # never the viewer's exit handlers: they would remove the spool

    @property
    def ended(self) -> bool:
        """The input ended, or cannot be read further."""
        return bool(self._state.numbers()[3])

    @property
    def paused(self) -> str:
        """Why the input is not read now: the cap, a full disk."""
        return self._state.text("paused")

    @property
    def problem(self) -> str:
        """What went wrong with the input itself: damaged data, a record cut short."""
        return self._state.text("problem")

    def spooled(self) -> int:
        """Bytes in the spool."""
        return self._state.numbers()[0]

    def describe(self) -> str:
        """A few words for the status bar: the spool's size and what the input is doing."""
        words = [f"spool {_size(self.spooled())}"]
        if self.paused:
            words.append(self.paused)
        elif self.ended:
            words.append("ended" if self.topic.compressed else "pipe ended")
        elif (progress := self.progress()) is not None:
            words.append(f"{self.topic.kind} {100 * progress:.0f}%")
        elif not self._state.numbers()[4]:
            words.append("waiting for a writer")
        return ", ".join(words)

    def progress(self) -> float | None:
        """How much of a compressed file is decoded (0 to 1); None for a pipe."""
        progress = self._state.numbers()[2]
        return None if progress < 0 else progress

    def remove(self) -> None:
        """Delete the spool (a descriptor the viewer holds still reads it until closed)."""
        shutil.rmtree(self.folder, ignore_errors=True)

    # -- the copying thread ---------------------------------------------------------------------------

    def _run(self) -> None:
        problem = ""
        try:
            for chunk in self._input.chunks():
                if not self._write(chunk):
                    return  # the cap is reached: stop reading, the writer waits
        except Damaged as damage:
            problem = damage_message(self.topic, damage, self.records).removeprefix("smartview: ")
        except OSError as exc:
            problem = f"{self.topic.name} cannot be read: {(exc.strerror or str(exc)).lower()}"
        except Exception as exc:  # a topic error opening a pipe: said in the status bar, never a crash
            problem = getattr(exc, "message", str(exc))
        if self._unfinished:
            if not problem:
                problem = (f"{self.topic.name} ended in the middle of a record: offset {self.records:,} "
                           f"({byte_count(self._unfinished)}) has no line end; it is shown as it is")
            self._append(b"\n")
        self._state.set_text("problem", problem)
        self._publish(ended=True)

    def _publish(self, ended: bool = False) -> None:
        self._state.set_numbers(self.size, self.records, self._input.progress(), ended, self._input.opened)

    def _write(self, data: bytes) -> bool:
        """Append what arrived; False when the cap stops the spooling. A full disk waits and tries again.

        At the cap the spool ends with the record that reaches it: nothing written is taken back, since
        the viewer may have read it.
        """
        if self.size + len(data) >= self.cap:  # stop after the record that reaches the cap
            end = data.find(b"\n", max(0, self.cap - self.size - 1)) + 1
            over = self.size + len(data) > self.cap + MAX_RECORD_BYTES  # a record without end: stop anyway
            if end or over:
                self._append(data[: end or len(data)])
                self._state.set_text("paused", f"spool full at {_size(self.cap)}: input paused (--spool-max)")
                self._publish()
                return False
        self._append(data)
        return True

    def _append(self, data: bytes) -> None:
        """Write `data` whole; on a full disk keep what was written and try the rest every few seconds."""
        done = 0
        while done < len(data):
            try:
                written = os.write(self._fd, data[done:] if done else data)
            except OSError as exc:
                if exc.errno not in NO_SPACE:
                    raise
                # What was written stays (the viewer may have read it already); the rest waits for room.
                self._state.set_text("paused", f"no space for the spool in {self.folder.parent}: input paused, "
                                                "trying again")
                self._publish()
                time.sleep(RETRY_SECONDS)
                continue
            self._wrote(data if written == len(data) else data[done : done + written])
            done += written
        if self.paused:
            self._state.set_text("paused", "")
        self._publish()

    def _wrote(self, data: bytes) -> None:
        """Count what reached the spool: bytes, records, and the bytes after the last line end."""
        self.size += len(data)
        newlines = data.count(b"\n")
        self.records += newlines
        self._unfinished = len(data) - data.rfind(b"\n") - 1 + (0 if newlines else self._unfinished)


def _end_with_parent(parent: int) -> None:
    """The copying process: default signals, and killed when the viewer goes (Linux), however it goes."""
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # ctrl+c in the terminal is the viewer's to handle
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # it went before the line above took effect
        os._exit(0)


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
        atexit.register(remove_all)
        for signum in (signal.SIGTERM, signal.SIGHUP):
            _chain(signum)
    _spools.append(spool)


def remove_all() -> None:
    """Remove every spool of this process: at exit, and before a signal ends it without running atexit."""
    for spool in _spools:
        spool.remove()


def _chain(signum: int) -> None:
    previous = signal.getsignal(signum)

    def handle(number: int, frame: Any) -> None:
        remove_all()
        if callable(previous):
            previous(number, frame)
            return
        signal.signal(number, signal.SIG_DFL)
        os.kill(os.getpid(), number)

    signal.signal(signum, handle)


class SpooledTopic(Topic):
    """A stream topic as the viewer opens it: named as given, read from its spool.

    A plain slotted class, as the `Topic` it extends.
    """

    __slots__ = ("spool",)

    def __init__(self, name: str, path: Path, spool: Spool | None = None) -> None:
        super().__init__(name, path)
        self.spool = spool

    def with_path(self, path: Path) -> SpooledTopic:
        return SpooledTopic(self.name, path, self.spool)
