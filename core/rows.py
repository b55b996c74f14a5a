"""Mapped records by offset, for a viewer: only what is asked for is read and mapped, then cached.

The cache belongs to one set of parameter values. Changing the mapper starts a new generation and
drops every cached result at once, so a screen can never mix rows mapped with old and new values.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from .index import LineIndex
from .record import Record
from .rowprocess import RowProcess
from .runner import Failure, Identity, Mapper, Output

CACHE_ROWS = 8192
# A child process still busy with stale work after this long is taken to be stuck, and replaced.
STUCK_AFTER = 0.1


@dataclass(frozen=True, slots=True)
class Row:
    """One record as a viewer shows it: its offset and what the module made of it."""

    offset: int
    result: Output | Failure

    @property
    def failed(self) -> bool:
        return isinstance(self.result, Failure)


class MappedTopic:
    """A topic's index and the mapper currently applied to it."""

    def __init__(
        self,
        index: LineIndex,
        mapper: Mapper | Identity,
        values: dict[str, str] | None = None,
        cache_rows: int = CACHE_ROWS,
    ) -> None:
        self.index = index
        self.mapper = mapper
        self.values = dict(values or {})
        self.generation = 0
        # Called from a helper thread when rows that were not ready in time have been mapped.
        self.on_ready: Callable[[], None] | None = None
        # The record a helper thread is mapping right now, if any: a viewer shows it when it takes long.
        self.busy_offset: int | None = None
        self._cache: OrderedDict[int, Row] = OrderedDict()
        self._cache_rows = cache_rows
        self._lock = threading.Lock()
        self._jobs: dict[tuple[int, int, int], threading.Event] = {}
        self._late = False
        self._process: RowProcess | None = None
        self._process_lock = threading.Lock()
        self._process_generation = -1
        self._closed = False
        if isinstance(mapper, Mapper):
            self._process = RowProcess()  # started now, so it is ready by the first screen

    @property
    def count(self) -> int:
        return self.index.count

    def close(self) -> None:
        """Stop mapping for good: helpers still running see a new generation and start nothing more."""
        with self._lock:
            self._closed = True
            self.generation += 1
            if self._process is not None:
                self._process.kill()

    def set_mapper(self, mapper: Mapper | Identity, values: dict[str, str] | None = None) -> None:
        """Apply other parameters or another module: every later row reflects it, none of the old ones stay."""
        with self._lock:
            self.mapper = mapper
            self.values = dict(values or {})
            self.generation += 1
            self._cache.clear()

    def forget(self) -> None:
        """Drop cached rows after the file was truncated or replaced."""
        with self._lock:
            self.generation += 1
            self._cache.clear()

    def cached(self, first: int, last: int) -> list[Row | None]:
        with self._lock:
            return [self._cache.get(offset) for offset in range(first, min(last, self.count))]

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
            job = self._jobs.get(key)
            started = job is None
            if started:
                job = self._jobs[key] = threading.Event()
        if started:
            threading.Thread(target=self._map_window, args=(key, job), name="smartview-rows", daemon=True).start()
        if job.wait(wait):
            return self.cached(first, last)
        self._late = True
        return self.cached(first, last)

    def _map_window(self, key: tuple[int, int, int], done: threading.Event) -> None:
        generation, first, last = key
        mapper = self.mapper
        values = self.index.read(first, last)
        with self._lock:
            todo = [(first + i, value) for i, value in enumerate(values) if first + i not in self._cache]
        if isinstance(mapper, Mapper):
            # A module's rows are mapped in a child process (see rowprocess.py): a module stuck in C
            # code, or one that ends its process, cannot freeze or end the viewer.
            self._map_in_process(generation, mapper, todo)
        else:
            for offset, value in todo:
                if generation != self.generation:
                    break
                self.busy_offset = offset
                try:
                    result = mapper.apply(Record(offset, None, value))
                except KeyboardInterrupt as exc:  # no Ctrl-C reaches this thread: the module raised it
                    result = mapper.failure(offset, value, exc)  # type: ignore[union-attr]
                self._store(generation, [Row(offset, result)])
        self.busy_offset = None
        with self._lock:
            self._jobs.pop(key, None)
        done.set()
        if self._late and self.on_ready is not None:
            self._late = False
            self.on_ready()

    def _map_in_process(self, generation: int, mapper: Mapper, todo: list[tuple[int, bytes]]) -> None:
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
            while remaining:
                with self._lock:
                    if self._closed or generation != self.generation:
                        return
                    if self._process is None or self._process.exit_status() is not None:
                        self._process = RowProcess()
                process = self._process
                try:
                    process.send(mapper.module.path, self.values, remaining)
                except OSError:  # it ended before taking the request: start another
                    process.kill()
                    self._process = None
                    attempts += 1
                    if attempts > 3:
                        self._fail_all(generation, mapper, remaining, "the mapping process could not be started")
                        return
                    continue
                answered = 0
                for offset, value in remaining:
                    self.busy_offset = offset
                    answered += 1
                    try:
                        result = process.receive()
                    except EOFError:
                        if generation != self.generation:  # replaced by newer work while stuck
                            return
                        # The module ended the process: that record fails, the rest go to a new one.
                        status = process.exit_status(wait=1.0)
                        result = Failure(offset, f"{mapper.module.kind} ended its process (exit status {status})",
                                         str(mapper.module.path), "", value)
                        self._process = None
                        self._store(generation, [Row(offset, result)])
                        break
                    self._store(generation, [Row(offset, result)])
                remaining = remaining[answered:]
        finally:
            self._process_lock.release()

    def _fail_all(self, generation: int, mapper: Mapper, items: list[tuple[int, bytes]], reason: str) -> None:
        path = str(mapper.module.path)
        self._store(generation, [Row(offset, Failure(offset, reason, path, "", value)) for offset, value in items])

    def _store(self, generation: int, rows: list[Row]) -> None:
        with self._lock:
            if generation != self.generation:
                return
            for row in rows:
                self._cache[row.offset] = row
                self._cache.move_to_end(row.offset)
            while len(self._cache) > self._cache_rows:
                self._cache.popitem(last=False)

    def value(self, offset: int) -> bytes:
        """The whole input record, for the detail view."""
        return self.index.read_one(offset)
