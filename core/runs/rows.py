"""Mapped records by row, for a viewer: only what is asked for is read and mapped, then cached.

With no module or one map module, row N is record N. Modules of other kinds, and chains, may give no
row or several for a record: an `OutputIndex` (outputs.py) counts them in a background pass, and row N
is found through it. Either way only the rows asked for are mapped, in a child process.

The cache belongs to one set of parameter values. Changing them starts a new generation and drops
every cached result at once, so a screen can never mix rows mapped with old and new values.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from ..sources.index import LineIndex, TooLong
from ..modules.module import Module
from .outputs import OutputIndex
from ..record import Record
from .rowprocess import RowProcess
from ..modules.runner import Failure, Output

CACHE_ROWS = 8192
# A child process still busy with stale work after this long is taken to be stuck, and replaced.
STUCK_AFTER = 0.1

Stages = Sequence[tuple[Module, dict[str, str]]]
# What a record gave: one output (one-to-one), a list of outputs (other kinds and chains), or a failure.
Result = Output | Failure | list[Output]


class Row(NamedTuple):
    """One row as a viewer shows it: the record it came from, which of that record's outputs, and the output.

    A NamedTuple rather than a dataclass, as the other value types on the viewer's way to its first
    screen: each dataclass costs the start about half a millisecond to make.
    """

    offset: int
    result: Output | Failure
    sub: int | None = None  # set when a record may give several rows

    @property
    def failed(self) -> bool:
        return isinstance(self.result, Failure)


def is_one_to_one(stages: Stages) -> bool:
    """No module, or a single map module: row N is record N and needs no counting pass.

    A map with a look_back hook keeps state from record to record: it is counted and checkpointed in
    one pass from the start, like an aggregate.
    """
    return not stages or (len(stages) == 1 and stages[0][0].kind == "map" and not stages[0][0].stateful)


class MappedTopic:
    """A topic's index and the modules currently applied to it, in chain order (none: records as they are)."""

    def __init__(
        self,
        index: LineIndex,
        stages: Stages = (),
        initial: str | None = None,
        cache_rows: int = CACHE_ROWS,
        process: RowProcess | None = None,
    ) -> None:
        self.index: Any = index
        self.stages = [(module, dict(values)) for module, values in stages]
        self.initial = initial
        self.generation = 0
        # Called from a helper thread when rows that were not ready in time have been mapped.
        self.on_ready: Callable[[], None] | None = None
        # Called from a helper thread when the counting pass of a non-one-to-one chain has news.
        self.on_progress: Callable[[], None] | None = None
        # The record a helper thread is mapping right now, if any: a viewer shows it when it takes long.
        self.busy_offset: int | None = None
        self.outputs: OutputIndex | None = None
        self._results: OrderedDict[int, Result] = OrderedDict()
        self._cache_rows = cache_rows
        self._lock = threading.Lock()
        self._jobs: dict[tuple[int, int, int], threading.Event] = {}
        self._late = False
        self._process: RowProcess | None = None
        self._process_lock = threading.Lock()
        self._process_generation = -1
        self._closed = False
        # While the index is a preview of the file's last records (tail.py) and rows come from a counting
        # pass: the (record, output number) of the rows those records gave, mapped here in the meantime.
        self._tail_rows: list[tuple[int, int]] | None = None
        self._start_pass()
        if self.stages:
            # Started now (or earlier, by the caller, before Textual's import), so it is ready by the first screen.
            self._process = process or RowProcess()
        elif process is not None:
            process.kill()

    @property
    def one_to_one(self) -> bool:
        return is_one_to_one(self.stages)

    @property
    def numbers_outputs(self) -> bool:
        """Rows are labelled `offset.index`: some module gives several rows per record."""
        return any(module.kind == "array_map" for module, _ in self.stages)

    @property
    def stateful(self) -> bool:
        return any(module.stateful for module, _ in self.stages)

    @property
    def count(self) -> int:
        """Rows to show: records for one-to-one modules, else the rows counted so far (or a preview gave)."""
        if self._tail_rows is not None:
            return len(self._tail_rows)
        return self.index.count if self.outputs is None else self.outputs.count

    def close(self) -> None:
        """Stop mapping for good: helpers still running see a new generation and start nothing more."""
        with self._lock:
            self._closed = True
            self.generation += 1
            if self._process is not None:
                self._process.kill()
            if self.outputs is not None:
                self.outputs.cancel()

    def set_stages(self, stages: Stages, initial: str | None = None) -> None:
        """Apply other parameters or modules: every later row reflects them, none of the old ones stay."""
        with self._lock:
            self.stages = [(module, dict(values)) for module, values in stages]
            self.initial = initial
            self.generation += 1
            self._results.clear()
        self._start_pass()

    def use_index(self, index: Any) -> None:
        """Read records from another index of the same topic: the real one, once a preview's count arrives.

        Between a file's head (head.py) and its full index, offsets name the same records: the rows
        mapped stay. A preview of its end numbers them from 0: every row is mapped anew.
        """
        with self._lock:
            renumbered = getattr(self.index, "provisional", False) or getattr(index, "provisional", False)
            self.index = index
            if renumbered:
                self.generation += 1
                self._results.clear()
        self._start_tail()

    def forget(self) -> None:
        """Drop cached rows (and count again) after the file was truncated or replaced."""
        with self._lock:
            self.generation += 1
            self._results.clear()
        self._start_pass()

    def _start_pass(self) -> None:
        if self.outputs is not None:
            self.outputs.cancel()
            self.outputs = None
        if not self.one_to_one and not self._closed:
            stages = [(module.path, values) for module, values in self.stages]
            # A stateful chain's rows come from its pass alone (no preview of the file's end gives them).
            self.outputs = OutputIndex(self.index.source, stages, self.initial, on_progress=self._progress,
                                       first_rows_soon=self.stateful)
        self._start_tail()

    def _start_tail(self) -> None:
        """Map a preview's records now, when rows otherwise come from a counting pass that needs the count.

        The pass gives rows only once the whole topic is counted; the preview's records are few and map
        in milliseconds, so their rows show first. Not for stateful chains: an accumulator needs every
        record before.
        """
        self._tail_rows = None
        if not getattr(self.index, "provisional", False) or self.outputs is None or self.stateful:
            return
        self._tail_rows = []
        args = (self.generation, self.index)
        threading.Thread(target=self._map_tail, args=args, name="smartview-tail", daemon=True).start()

    def _map_tail(self, generation: int, tail: Any) -> None:
        records = tail.read_records(0, tail.count)
        self._map_in_process(generation, records, None)
        rows: list[tuple[int, int]] = []
        with self._lock:
            if generation != self.generation:
                return
            for record in records:
                result = self._results.get(record.offset)
                if isinstance(result, list):
                    rows += [(record.offset, sub) for sub in range(len(result))]
                elif result is not None:  # a failure: a row of its own, as the pass counts it
                    rows.append((record.offset, 0))
            self._tail_rows = rows
        self._progress()

    def _progress(self) -> None:
        if self.on_progress is not None:
            self.on_progress()

    def _spans(self, first: int, last: int) -> list[tuple[int, int | None]]:
        """(record offset, output number) of rows [first, last); the number is None for one-to-one rows."""
        last = min(last, self.count)
        if self._tail_rows is not None:
            return list(self._tail_rows[first:last])
        if self.outputs is None:
            return [(offset, None) for offset in range(first, last)]
        outputs = self.outputs
        return [outputs.locate(row) for row in range(first, last)]

    def cached(self, first: int, last: int) -> list[Row | None]:
        spans = self._spans(first, last)
        with self._lock:
            return [self._row(offset, sub) for offset, sub in spans]

    def _row(self, offset: int, sub: int | None) -> Row | None:
        result = self._results.get(offset)
        if result is None:
            return None
        if not isinstance(result, list):
            return Row(offset, result, sub)
        if sub is not None and sub < len(result):
            return Row(offset, result[sub], sub)
        gone = Failure(offset, f"the record gives {len(result)} rows now, fewer than when it was counted "
                       "(the module is not deterministic)", "", "", b"")
        return Row(offset, gone, sub)

    def window(self, first: int, last: int, wait: float) -> list[Row | None]:
        """Rows for a screen, mapped in a helper thread so that a slow module cannot freeze the caller.

        Returns within about `wait` seconds. Rows not mapped by then are None; `on_ready` is called once
        they are. A helper stuck in a module's code is left behind: a new generation starts a new one.
        """
        rows = self.cached(first, last)
        if all(row is not None for row in rows):
            return rows
        key = (self.generation, first, min(last, self.count))
        with self._lock:
            job = self._jobs.get(key) or self._covering(key)
            started = job is None
            if started:
                job = self._jobs[key] = threading.Event()
        if started:
            threading.Thread(target=self._map_window, args=(key, job), name="smartview-rows", daemon=True).start()
        if job.wait(wait):
            return self.cached(first, last)
        self._late = True
        return self.cached(first, last)

    def _covering(self, key: tuple[int, int, int]) -> threading.Event | None:
        """A job under way that maps all the rows of `key` (rows asked for ahead of the first screen)."""
        generation, first, last = key
        jobs = self._jobs.items()
        return next((job for (g, low, high), job in jobs if g == generation and low <= first and last <= high), None)

    def _map_window(self, key: tuple[int, int, int], done: threading.Event) -> None:
        generation, first, last = key
        todo, state = self._todo(first, last)
        if any(isinstance(r.value, TooLong) for r in todo):  # rows of their own, never given to a module
            self._store(generation, [(r.offset, Failure(r.offset, r.value.reason(), str(self.index.path), "", b""))
                                     for r in todo if isinstance(r.value, TooLong)])
            todo = [r for r in todo if not isinstance(r.value, TooLong)]
        if not self.stages:
            self._store(generation, [(r.offset, Output(r.offset, r.key, r.value)) for r in todo])
        else:
            # Module code runs in a child process (see rowprocess.py): a module stuck in C code, or
            # one that ends its process, cannot freeze or end the viewer.
            self._map_in_process(generation, todo, state)
        self.busy_offset = None
        with self._lock:
            self._jobs.pop(key, None)
        done.set()
        if self._late and self.on_ready is not None:
            self._late = False
            self.on_ready()

    def _todo(self, first: int, last: int) -> tuple[list[Record], bytes | None]:
        """The records to map for rows [first, last), and the accumulators to start from (aggregates)."""
        spans = self._spans(first, last)
        if not spans:
            return [], None
        low, high = spans[0][0], spans[-1][0] + 1
        with self._lock:
            missing = [offset for offset in range(low, high) if offset not in self._results]
        if not missing:
            return [], None
        state = None
        if self.stateful and self.outputs is not None:
            # Accumulators carry from record to record: start at the checkpoint before the first one needed.
            low, state = self.outputs.checkpoint(missing[0])
            missing = list(range(low, high))
        wanted = set(missing)
        records = self.index.read_records(missing[0], missing[-1] + 1)
        return [record for record in records if record.offset in wanted], state

    def _map_in_process(self, generation: int, todo: list[Record], state: bytes | None) -> None:
        """Map `todo` in the child process, one reply per record, replacing a child stuck on stale work."""
        if not todo:
            return
        while not self._process_lock.acquire(timeout=STUCK_AFTER):
            if generation != self.generation:
                return
            with self._lock:
                holder_is_stale = self._process_generation != self.generation
                if holder_is_stale and self._process is not None:
                    self._process.kill()  # its user gets EOFError and lets go
        try:
            self._process_generation = generation
            remaining = todo
            attempts = 0
            stages = [(module.path, values) for module, values in self.stages]
            many = not self.one_to_one
            while remaining:
                with self._lock:
                    if self._closed or generation != self.generation:
                        return
                    if self._process is None or self._process.exit_status() is not None:
                        self._process = RowProcess()
                process = self._process
                try:
                    process.send(stages, remaining, many, self.initial, state)
                except ValueError:  # its pipe closed under this write: the viewer is closing
                    if self._closed or generation != self.generation:
                        return
                    raise
                except OSError:  # it ended before taking the request: start another
                    process.kill()
                    self._process = None
                    attempts += 1
                    if attempts > 3:
                        self._fail_all(generation, remaining, "the mapping process could not be started")
                        return
                    continue
                answered = 0
                for record in remaining:
                    offset, value = record.offset, record.value
                    self.busy_offset = offset
                    answered += 1
                    try:
                        result = process.receive()
                    except (ValueError, OSError):  # its pipe closed under this read: the viewer is closing
                        if self._closed or generation != self.generation:
                            return
                        raise
                    except EOFError:
                        if generation != self.generation:  # replaced by newer work while stuck
                            return
                        # The module ended the process: that record fails, the rest go to a new one.
                        status = process.exit_status(wait=1.0)
                        module = self.stages[0][0]
                        who = module.kind if len(self.stages) == 1 else "a module of the chain"
                        result = Failure(offset, f"{who} ended its process (exit status {status})",
                                         str(module.path), "", value)
                        self._process = None
                        self._store(generation, [(offset, result)])
                        break
                    self._store(generation, [(offset, result)])
                remaining = remaining[answered:]
                if remaining and self.stateful:
                    # The accumulators died with the process: later records cannot be mapped from here.
                    self._fail_all(generation, remaining, f"not mapped: the module ended its process at "
                                   f"offset {remaining[0].offset - 1}")
                    return
        finally:
            self._process_lock.release()

    def explained(self, row: Row, wait: float = 1.0) -> Row:
        """`row` with its failure's traceback, found by mapping its record once more in the child process.

        Mapping keeps only the module's file and line of a failure: formatting every traceback would make
        a module that fails on every record a hundred times slower. The detail view asks for the one it
        shows. The row comes back as it was if its record is not mapped again within `wait` seconds, or
        does not fail this time.
        """
        result = row.result
        if not isinstance(result, Failure) or result.traceback is not None or not self.stages:
            return row
        found: list[Row] = []
        done = threading.Event()

        def remap() -> None:
            try:
                found.append(self._remap(row, wait))
            finally:
                done.set()

        threading.Thread(target=remap, name="smartview-traceback", daemon=True).start()
        done.wait(wait)
        return found[0] if found else row

    def _remap(self, row: Row, wait: float) -> Row:
        generation = self.generation
        low, state = row.offset, None
        if self.stateful and self.outputs is not None:  # the accumulators before this record are needed
            low, state = self.outputs.checkpoint(row.offset)
        records = self.index.read_records(low, row.offset + 1)
        if not records or not self._process_lock.acquire(timeout=wait):
            return row
        reply = None
        try:
            # Marked stale: a screen that needs the process more than this does may take it back.
            self._process_generation = -1
            with self._lock:
                if self._closed or generation != self.generation:
                    return row
                if self._process is None or self._process.exit_status() is not None:
                    self._process = RowProcess()
                process = self._process
            stages = [(module.path, values) for module, values in self.stages]
            process.send(stages, records, not self.one_to_one, self.initial, state, tracebacks=True)
            for _ in records:
                reply = process.receive()
        except (OSError, EOFError):  # the module ended the process: there is no traceback to show
            self._process = None
            return row
        finally:
            self._process_lock.release()
        if isinstance(reply, Failure) and reply.traceback is not None and generation == self.generation:
            return Row(row.offset, reply, row.sub)
        return row

    def _fail_all(self, generation: int, records: list[Record], reason: str) -> None:
        path = str(self.stages[0][0].path)
        self._store(generation, [(r.offset, Failure(r.offset, reason, path, "", r.value)) for r in records])

    def _store(self, generation: int, results: list[tuple[int, Result]]) -> None:
        with self._lock:
            if generation != self.generation:
                return
            for offset, result in results:
                self._results[offset] = result
                self._results.move_to_end(offset)
            while len(self._results) > self._cache_rows:
                self._results.popitem(last=False)

    def offset_of(self, row: int) -> int:
        """The record a row came from."""
        tail = self._tail_rows
        if tail is not None:
            return tail[row][0] if 0 <= row < len(tail) else row
        return row if self.outputs is None else self.outputs.locate(row)[0]

    def row_of(self, offset: int) -> int:
        """The row of a record offset: the record's first row, or the next record's when it gave none."""
        return offset if self.outputs is None else self.outputs.row_of(offset)

    def failed_offsets(self):
        """The offsets of the records that failed, in order, as far as the counting pass got (None without one)."""
        return None if self.outputs is None else self.outputs.failed

    def value(self, row: int) -> bytes:
        """The whole input record of a row, for the detail view."""
        return self.index.read_one(self.offset_of(row))
