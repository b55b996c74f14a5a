"""The whole-topic pass: map every record once to count failures, in a child process.

A viewer needs figures that cover every record (how many fail) without making the visible rows wait.
Mapping millions of records in a thread would share the GIL with the user interface and make every
key press slow, so the pass runs as its own Python process (`python -P -m smartview.core.runs.census`, which
imports only the core, or its copy forked from a server: children.py) and reports progress as lines on a pipe. Once it has caught up it keeps
following the file, so appended records are counted without starting anything new. A new parameter
value, or a truncated or replaced file, kills the pass and starts another.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
from collections.abc import Iterator
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import children
from .rowprocess import read_frame, write_frame

REPORT_FAILURES = 1 << 16  # failed offsets in one progress line, at most


@dataclass(frozen=True)
class Progress:
    """How far the pass has got: records mapped up to `done`, and the failures among them."""

    done: int
    failures: int
    finished: bool = False
    error: str | None = None


class Census:
    """One pass over records [start, end of the file now) of a topic, with a module and parameter values."""

    def __init__(self, source: Any, module_path: Path, values: dict[str, str], start: int = 0) -> None:
        """`source` is what to read: a topic file's path, or a Kafka topic and partition (source.py)."""
        self.latest = Progress(start, 0)
        # The offsets of the records that failed, in order (8 bytes each): the viewer's next/previous error.
        self.failed = array("q")
        self._buffer = b""
        self._process = children.start("smartview.core.runs.census")
        assert self._process.stdin is not None and self._process.stdout is not None
        write_frame(self._process.stdin, (source, str(module_path), start, values))
        self._process.stdin.close()
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
        for line in lines:
            report = json.loads(line)
            self.failed.extend(report.pop("failed", ()))
            self.latest = Progress(**report)
        return self.latest

    def cancel(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()
        if self._process.stdout is not None:
            self._process.stdout.close()


def _ended_early(latest: Progress) -> Progress:
    return Progress(latest.done, latest.failures, True, "the counting process ended early")


def _report(out: int, progress: Progress, failed: list[int] | None = None) -> None:
    """A progress line; `failed` lists the offsets that failed since the last one."""
    os.write(out, json.dumps({**progress.__dict__, "failed": failed or []}).encode() + b"\n")


def main() -> None:
    from ..modules.module import load
    from .priority import run_in_background
    from ..modules.chain import make_mapper
    from ..sources.halves import Half

    source, module_path, offset, values = read_frame(children.take_stdin())
    # Background work at the lowest priority: the viewer (and the writers it watches) come first for the
    # processor; at nice 10 it still slowed key presses during a burst of appends on two cores.
    run_in_background(19)
    # Progress goes to the real stdout; whatever the module prints goes nowhere.
    out = os.dup(1)
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # the viewer went away: end quietly
    viewer = os.getppid()
    failures = 0
    try:
        module = load(Path(module_path))
        mapper = make_mapper(module, module.make_params(values))
        mapper.initialize()  # the viewer checked it; a module changed since then reports its error below
        for next_offset, records in _records(source, offset, mapper):
            if isinstance(records, Half):  # the second half of the backlog, counted by a forked copy
                failures = _report_half(out, next_offset, records, failures)
                offset = next_offset + records.count
                continue
            failed = _failed(mapper, records)
            failures += len(failed)
            offset = records[-1].offset + 1 if records else next_offset
            _report(out, Progress(offset, failures), failed)
            if not records and os.getppid() != viewer:  # the viewer ended without stopping us
                return
    except Exception as exc:  # the module changed on disk since the viewer loaded it, the file went away...
        _report(out, Progress(offset, failures, True, getattr(exc, "message", str(exc))))


def _report_half(out: int, first: int, half: Any, failures: int) -> int:
    """Report the copy's failures in lines of a bounded size (the viewer reads them between key presses)."""
    failed = half.summary
    for start in range(0, len(failed), REPORT_FAILURES):
        piece = [first + failure for failure in failed[start:start + REPORT_FAILURES]]
        failures += len(piece)
        _report(out, Progress(piece[-1] + 1, failures), piece)
    _report(out, Progress(first + half.count, failures))
    return failures


def _records(source: Any, offset: int, mapper: Any) -> Iterator[tuple[int, Any]]:
    """The records to count: a topic file's backlog split across two processes (halves.py)."""
    from ..sources.halves import follow_halves
    from ..sources.source import follow_records

    if not isinstance(source, str):
        return follow_records(source, offset)

    def later(batches: Iterator[tuple[int, list[Any]]]) -> list[int]:
        return [failure for _, records in batches for failure in _failed(mapper, records)]

    return follow_halves(source, offset, later)


def _failed(mapper: Any, records: list[Any]) -> list[int]:
    """The offsets of the records among `records` that the module failed on."""
    from ..modules.runner import Failure

    if hasattr(mapper, "apply_block"):  # a SmartModule: one call for the whole block
        results = zip(records, mapper.apply_block(records))
    else:
        results = ((record, mapper.apply(record)) for record in records)
    return [record.offset for record, result in results if isinstance(result, Failure)]


if __name__ == "__main__":
    main()
    os._exit(0)  # a thread a module started must not keep this process alive
