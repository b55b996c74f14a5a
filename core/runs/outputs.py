"""The output index of modules that are not one record in, one record out: which record each row came from.

A filter drops records, an array_map turns one into several, a chain may do both. To show such output
by row number, a viewer must know how many rows every record gives, and for an aggregate what the
accumulator held along the way. That takes mapping every record once, from the beginning, so it runs as
a background pass in a child process (`python -P -m smartview.core.runs.outputs`, importing only the core,
or its copy forked from a server: children.py) that
reports, in frames on a pipe, how many outputs each record gave (-1 for a failure) and, for stateful
chains, a checkpoint of the accumulators (and of a look_back module's variables, or a SmartModule's
memory) every `CHECKPOINT_EVERY` records, thinned out past `CHECKPOINT_BUDGET` bytes. The viewer's own side keeps
one 8-byte number per row (the record it came from) and shows rows as soon as they are counted, long
before the pass ends. Once caught up, the pass follows the file, so appended records get their rows
without starting anything new. New parameter values or a rewritten file start a new pass.
"""

from __future__ import annotations

import bisect
import itertools
import os
import pickle
import subprocess
import threading
from array import array
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from .. import children
from .rowprocess import read_frame, write_frame

CHECKPOINT_EVERY = 1024  # records between accumulator checkpoints: scrolling back re-maps at most this many
FIRST_REPORT = 256  # the first frame comes quickly, so the first rows show at once
REPORT_EVERY = 8192
# Bytes of pickled checkpoints kept at most. A SmartModule with look_back is checkpointed with a copy of
# its memory, which grows as it maps (it never frees its outputs): past this, every other checkpoint
# is dropped and only one every twice as many records is kept from then on.
CHECKPOINT_BUDGET = 32 << 20
# Counts merged from a pass's forked copy arrive all at once: a few large frames, rather than hundreds
# of small ones that would each wake the viewer's reader thread and contend with drawing for the GIL.
MERGED_EVERY = 1 << 18


class OutputIndex:
    """Rows of a pipeline's output, each tied to the record it came from, filled in by a background pass.

    `source` is what the pass reads: a topic file's path, or a Kafka topic and partition (source.py).

    `on_progress` is called from a reader thread after each frame: more rows, or the pass ended.

    With `first_rows_soon`, the pass keeps the priority it was started with until its first report,
    then yields to the viewer as every pass does. For rows that nothing else can show first (an
    aggregate's: no preview of the file's end can give them), at the lowest priority from the start the
    pass got no processor time while the file's newlines were counted, and its first rows waited for the
    count; loading the modules and mapping the first records costs tens of milliseconds.
    """

    def __init__(
        self,
        source: Any,
        stages: list[tuple[Path, dict[str, str]]],
        initial: str | None = None,
        on_progress: Callable[[], None] | None = None,
        first_rows_soon: bool = False,
    ) -> None:
        self.on_progress = on_progress
        self.offsets = array("q")  # offsets[row] = the record row `row` came from
        self.done = 0  # records mapped so far, from offset 0
        self.failures = 0
        self.failed = array("q")  # the offsets of the records that failed, in order: 8 bytes each
        self.passed = 0  # records that gave at least one row
        self.error: str | None = None  # set when the pass could not run (the module changed on disk...)
        self.finished = False
        self._checkpoints: list[tuple[int, bytes]] = []
        self.checkpoint_every = CHECKPOINT_EVERY  # doubles each time the checkpoints outgrow their budget
        self._checkpoint_bytes = 0
        self._lock = threading.Lock()
        self._process = children.start("smartview.core.runs.outputs")
        assert self._process.stdin is not None
        write_frame(self._process.stdin, (source, [(str(p), v) for p, v in stages], initial, first_rows_soon))
        self._process.stdin.close()
        threading.Thread(target=self._read, name="smartview-outputs", daemon=True).start()

    @property
    def count(self) -> int:
        return len(self.offsets)

    def locate(self, row: int) -> tuple[int, int]:
        """(record offset, which of its outputs) for a row."""
        with self._lock:
            offset = self.offsets[row]
            return offset, row - bisect.bisect_left(self.offsets, offset)

    def row_of(self, offset: int) -> int:
        """The first row that came from a record at or after `offset` (the count, if none has yet)."""
        with self._lock:
            return bisect.bisect_left(self.offsets, offset)

    def nearest(self, offset: int, direction: int) -> int:
        """The first record at or after `offset` (direction 1; at or before, -1) that may give a row.

        Only records the pass has counted are known: going forwards past them, the first one not counted
        yet is the answer; going backwards with none at or before `offset`, -1. Lets find skip, unmapped,
        every record the pass knows gives nothing.
        """
        with self._lock:
            if direction > 0:
                i = bisect.bisect_left(self.offsets, offset)
                return self.offsets[i] if i < len(self.offsets) else max(offset, self.done)
            i = bisect.bisect_right(self.offsets, offset) - 1
            if i >= 0:
                return self.offsets[i]
            return -1 if offset < self.done else offset

    def checkpoint(self, offset: int) -> tuple[int, bytes | None]:
        """The nearest saved accumulators at or before `offset`: (their offset, pickled state); (0, None) is the start."""
        with self._lock:
            k = bisect.bisect_right(self._checkpoints, offset, key=lambda item: item[0]) - 1
            return self._checkpoints[k] if k >= 0 else (0, None)

    def cancel(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()

    def _read(self) -> None:
        assert self._process.stdout is not None
        source = self._process.stdout
        while True:
            try:
                frame = read_frame(source)
            except (EOFError, OSError, ValueError):
                break
            if frame[0] == "error":
                self.error = frame[1]
                break
            _, first, counts, checkpoints = frame
            self._absorb(first, array("i", counts), checkpoints)
            self._notify()
        self.finished = True
        try:
            status = self._process.wait(timeout=1)
        except subprocess.TimeoutExpired:
            status = None
        if self.error is None and status not in (0, -9):  # -9: cancelled, for new parameters
            self.error = f"the pass that counts output rows ended early (exit status {status})"
        self._notify()

    def _absorb(self, first: int, counts: array, checkpoints: list[tuple[int, bytes]]) -> None:
        records = range(first, first + len(counts))
        failures = counts.count(-1)
        failed = array("q", itertools.compress(records, map((-1).__eq__, counts))) if failures else None
        if max(counts, default=0) <= 1:  # filters and maps: at most one row a record, done in C
            rows = array("q", itertools.compress(records, counts))
        else:
            rows = array("q", itertools.chain.from_iterable(
                itertools.repeat(offset, 1 if n < 0 else n) for offset, n in zip(records, counts)))
        with self._lock:
            self.offsets.extend(rows)
            self._keep(checkpoints)
            self.failures += failures
            if failed is not None:
                self.failed.extend(failed)
            self.passed += len(counts) - counts.count(0) - failures
            self.done = first + len(counts)

    def _keep(self, checkpoints: list[tuple[int, bytes]]) -> None:
        """Add the checkpoints that fall on the current spacing, thinning them all while over budget."""
        for offset, state in checkpoints:
            if offset % self.checkpoint_every == 0:
                self._checkpoints.append((offset, state))
                self._checkpoint_bytes += len(state)
        while self._checkpoint_bytes > CHECKPOINT_BUDGET and len(self._checkpoints) > 1:
            self.checkpoint_every *= 2
            self._checkpoints = [item for item in self._checkpoints if item[0] % self.checkpoint_every == 0]
            self._checkpoint_bytes = sum(len(state) for _, state in self._checkpoints)

    def _notify(self) -> None:
        if self.on_progress is not None:
            self.on_progress()


# -- the pass, in the child process -----------------------------------------------------------------


def state_of(mapper: Any) -> list[Any]:
    """The state of a Mapper or a Chain, in stage order: accumulators, and a look_back module's variables."""
    return [stage.snapshot() for stage in getattr(mapper, "stages", [mapper])]


def restore(mapper: Any, state: list[Any]) -> None:
    for stage, saved in zip(getattr(mapper, "stages", [mapper]), state):
        stage.restore(saved)


def build_pipeline(stages: list[tuple[str, dict[str, str]]], initial: str | None) -> Any:
    """The Mapper or Chain for (module path, values) stages, as --print would build it."""
    from ..modules.chain import build
    from ..modules.module import load

    return build([(load(Path(path)), values) for path, values in stages], initial)


def main() -> None:
    from .priority import run_in_background
    from ..sources.halves import Half

    source, stages, initial, *rest = read_frame(children.take_stdin())
    first_rows_soon = bool(rest and rest[0])
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)  # what a module prints goes nowhere
    # The viewer and the writers it watches come first: at nice 5, keys pressed during a pass that kept both
    # cores busy waited behind it (p95 over 100 ms in tmux); at 19, like the error count, they do not.
    # Rows that only this pass gives show first, then the pass steps back (OutputIndex's `first_rows_soon`).
    background = partial(run_in_background, 19)
    if not first_rows_soon:
        background()
    viewer = os.getppid()
    try:
        counter = _Counter(build_pipeline(stages, initial), out, background if first_rows_soon else None)
        for first, records in _records(source, counter):
            if isinstance(records, Half):  # the second half of the backlog, counted by a forked copy
                counter.add_counts(first, array("i", records.summary))
            elif records:
                counter.add(first, records)
            else:  # caught up (for now)
                counter.flush()
                if os.getppid() != viewer:
                    return
    except (BrokenPipeError, ConnectionError):
        return  # the viewer is gone
    except Exception as exc:  # the module changed on disk, the file went away, the broker refused...
        try:
            write_frame(out, ("error", getattr(exc, "message", str(exc))))
        except OSError:
            pass


def _records(source: Any, counter: _Counter) -> Any:
    """The records to count: a topic file's backlog split across two processes (halves.py), unless the
    pipeline carries state from record to record (an aggregate, look_back): that stays in one process."""
    from ..sources.halves import follow_halves
    from ..sources.source import follow_records

    if counter.stateful or not isinstance(source, str):
        return follow_records(source)

    def later(batches: Any) -> bytes:
        counts = array("i")
        for _, records in batches:
            counts.extend(map(counter.count, records))
        return counts.tobytes()

    return follow_halves(source, 0, later)


class _Counter:
    """Maps records and sends their row counts in frames: small at first, so the first rows show at once."""

    def __init__(self, mapper: Any, out: Any, reported: Callable[[], None] | None = None) -> None:
        self.mapper = mapper
        self.out = out
        self.reported = reported  # called once, after the first report
        from ..modules.runner import Failure

        self.failure = Failure
        self.apply_many = mapper.apply_many
        self.stateful = any(stage.module.stateful for stage in getattr(mapper, "stages", [mapper]))
        self.batch = FIRST_REPORT
        self.first: int | None = None
        self.counts = array("i")
        self.checkpoints: list[tuple[int, bytes]] = []

    def add(self, first: int, records: list[Any]) -> None:
        if self.first is None:
            self.first = first
        count = self.count
        for record in records:
            number = record.offset
            while self.first + len(self.counts) < number:  # an offset without a record (compacted Kafka)
                self.counts.append(0)
            if self.stateful and number % CHECKPOINT_EVERY == 0 and number:
                self.checkpoints.extend(_checkpoint(self.mapper, number))
            self.counts.append(count(record))
            if len(self.counts) >= self.batch:
                self.flush()

    def count(self, record: Any) -> int:
        """How many outputs the pipeline gives for `record`; -1 when it fails."""
        try:
            result = self.apply_many(record)
        except KeyboardInterrupt:  # raised by the module itself: that record fails
            result = None
        return -1 if result is None or isinstance(result, self.failure) else len(result)

    def add_counts(self, first: int, counts: array) -> None:
        """Counts of records from `first` on, made elsewhere: sent in frames of at most `MERGED_EVERY`."""
        self.flush()
        if self.first is None:
            self.first = first
        for start in range(0, len(counts), MERGED_EVERY):
            self.counts = counts[start:start + MERGED_EVERY]
            self.flush()

    def flush(self) -> None:
        if not self.counts or self.first is None:
            return
        write_frame(self.out, ("rows", self.first, self.counts.tobytes(), self.checkpoints))
        if self.reported is not None:
            self.reported()
            self.reported = None
        self.first += len(self.counts)
        self.counts = array("i")
        self.checkpoints = []
        self.batch = min(self.batch * 2, REPORT_EVERY)


def _checkpoint(mapper: Any, offset: int) -> list[tuple[int, bytes]]:
    """The accumulators before record `offset`, pickled; none when they cannot be (then rows re-map from 0)."""
    try:
        return [(offset, pickle.dumps(state_of(mapper), protocol=pickle.HIGHEST_PROTOCOL))]
    except Exception:
        return []


if __name__ == "__main__":
    main()
    os._exit(0)  # a thread a module started must not keep this process alive
