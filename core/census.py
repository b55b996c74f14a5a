"""The whole-topic pass: map every record once to count failures, in a child process.

A viewer needs figures that cover every record (how many fail) without making the visible rows wait.
Mapping millions of records in a thread would share the GIL with the user interface and make every
key press slow, so the pass runs as its own Python process (`python -m smartview.core.census`, which
imports only the core) and reports progress as lines on a pipe. Once it has caught up it keeps
following the file, so appended records are counted without starting anything new. A new parameter
value, or a truncated or replaced file, kills the pass and starts another.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPORT_EVERY = 8192
FOLLOW_EVERY = 0.2  # seconds between looks at the file once the pass has caught up


@dataclass(frozen=True)
class Progress:
    """How far the pass has got: records mapped up to `done`, and the failures among them."""

    done: int
    failures: int
    finished: bool = False
    error: str | None = None


class Census:
    """One pass over records [start, end of the file now) of a topic, with a module and parameter values."""

    def __init__(self, topic: Path, module_path: Path, values: dict[str, str], start: int = 0) -> None:
        self.latest = Progress(start, 0)
        self._buffer = b""
        self._process = subprocess.Popen(
            [sys.executable, "-m", "smartview.core.census", str(topic), str(module_path), str(start), json.dumps(values)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        assert self._process.stdout is not None
        self._fd = self._process.stdout.fileno()
        fcntl.fcntl(self._fd, fcntl.F_SETFL, fcntl.fcntl(self._fd, fcntl.F_GETFL) | os.O_NONBLOCK)

    def poll(self) -> Progress:
        """The newest progress reported so far, without waiting."""
        while True:
            try:
                chunk = os.read(self._fd, 65536)
            except BlockingIOError:
                break
            if not chunk:
                if not self.latest.finished:
                    self.latest = _ended_early(self.latest)
                break
            self._buffer += chunk
        *lines, self._buffer = self._buffer.split(b"\n")
        if lines:
            self.latest = Progress(**json.loads(lines[-1]))
        return self.latest

    def cancel(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()
        if self._process.stdout is not None:
            self._process.stdout.close()


def _ended_early(latest: Progress) -> Progress:
    return Progress(latest.done, latest.failures, True, "the counting process ended early")


def _report(out: int, progress: Progress) -> None:
    os.write(out, json.dumps(progress.__dict__).encode() + b"\n")


def main(topic: str, module_path: str, start: str, values: str) -> None:
    from .index import LineIndex
    from .module import load
    from .record import Record
    from .runner import Failure, Mapper

    # Background work: the viewer (and the writers it watches) come first for the processor.
    os.nice(10)
    # Progress goes to the real stdout; whatever the module prints goes nowhere.
    out = os.dup(1)
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
    offset = int(start)
    try:
        module = load(Path(module_path))
        mapper = Mapper(module, module.make_params(json.loads(values)))
        index = LineIndex(Path(topic))
        index.update()
    except Exception as exc:  # the module changed on disk since the viewer loaded it
        _report(out, Progress(offset, 0, True, str(exc)))
        return
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # the viewer went away: end quietly
    viewer = os.getppid()
    failures = 0
    while True:
        end = index.count
        while offset < end:
            last = min(offset + REPORT_EVERY, end)
            for i, value in enumerate(index.read(offset, last)):
                if isinstance(mapper.apply(Record(offset + i, None, value)), Failure):
                    failures += 1
            offset = last
            _report(out, Progress(offset, failures))
        _report(out, Progress(offset, failures))
        while not index.update():  # caught up: follow the file until there is more
            if os.getppid() != viewer:  # the viewer ended without stopping us
                return
            time.sleep(FOLLOW_EVERY)


if __name__ == "__main__":
    main(*sys.argv[1:5])
