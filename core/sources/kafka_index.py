"""Random access to one partition of a Kafka topic by offset: what the viewer reads instead of a LineIndex.

The viewer opens at the end of a topic and shows only a screen of rows at a time, so `KafkaIndex`
never reads a whole partition: it finds the partition's end (`kafka.find_ends`, which does not trust a
lagging high watermark), keeps a consumer sitting at the end for new records (`update`), and fetches
other records in windows of `window` offsets on demand, keeping the most recently used windows in an
LRU cache. Both consumers read by assignment only: no group, no commits.

Rows are offsets. Row N is the record at offset N; `first` is the lowest offset the partition still
holds (above 0 once retention has deleted old records) and `count` is one past the last record. A
compacted topic, or a transactional one, has offsets without a record: `read` gives b"" for them,
`read_records` leaves them out.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

from .kafka import (
    ERR_ALL_BROKERS_DOWN,
    ERR_AUTO_OFFSET_RESET,
    ERR_PARTITION_EOF,
    ERR_TRANSPORT,
    BrokerErrors,
    KafkaRecord,
    KafkaSourceError,
    KafkaTopic,
    connect,
    describe_error,
    find_ends,
    new_consumer,
    take,
    to_record,
    watermarks,
)

WINDOW = 256
CACHE_WINDOWS = 64
# A window that takes longer than this to fetch is returned as far as it got (and fetched again later).
FETCH_SECONDS = 5.0
RECHECK_SECONDS = 0.5


class KafkaIndex:
    """One partition of a Kafka topic, read by offset, with the read interface of `LineIndex`.

    Interface for the viewer (all offsets are Kafka offsets of the partition):

    - `KafkaIndex(topic, partition=None)`: connects, checks the topic and partition and finds the end;
      raises `KafkaSourceError` (a clear one-line message) within a few seconds when it cannot.
      `partition` defaults to the address's `?partition=N`, else the topic's first partition;
      `partitions` lists them all, for a viewer that lets the person switch.
    - `count`: one past the last record (the end offset); `first`: the first offset still held.
    - `read(first, last) -> list[bytes]`: values of offsets [first, last), clipped to [self.first,
      count); one entry per offset (b"" for an offset without a record).
    - `read_records(first, last) -> list[KafkaRecord]`: the same records with key, partition and
      timestamp (offsets without a record are left out).
    - `read_one(offset) -> bytes`.
    - `update(budget=None) -> int`: takes the records produced since the last call (without waiting)
      and returns how many were added to `count`. Safe to call from a worker thread while `read` runs.
    - `change() -> str | None`: "truncated" when the partition lost the records we read (the topic was
      recreated, or our position was deleted); the caller then calls `reset()` and starts over.
    - `status -> str | None`: a one-line description of broker trouble for the status bar, None when
      all is well. While the broker is away, `update` returns 0 and reading resumes when it returns.
    - `unfinished() -> 0` (Kafka records are always whole), `path` (the address, for display),
      `size()` and `scanned` (both the record count: there is no byte size), `close()`.
    """

    def __init__(self, topic: KafkaTopic, partition: int | None = None, window: int = WINDOW,
                 cache_windows: int = CACHE_WINDOWS) -> None:
        self.topic = topic
        self.window = window
        self.cache_windows = cache_windows
        self.path = topic.address
        self.status: str | None = None
        self._lock = threading.Lock()  # the cache and the counters
        self._read_lock = threading.Lock()  # the window consumer
        self._tail_lock = threading.Lock()  # the tail consumer
        self._errors = BrokerErrors()
        self._reader = new_consumer(topic.settings, self._errors)
        self._tail = new_consumer(topic.settings, self._errors)
        self.partition = self._choose(partition)
        self._open()

    def _choose(self, partition: int | None) -> int:
        """The partition asked for, else the address's, else the topic's first (the viewer can switch)."""
        partitions = connect(self.topic, self._reader, self._errors)
        self.partitions = sorted(partitions)
        wanted = partition if partition is not None else self.topic.partition
        if wanted is None:
            return self.partitions[0]
        if wanted not in partitions:
            raise KafkaSourceError(f"topic {self.topic.name!r} has no partition {wanted}")
        return wanted

    def _open(self) -> None:
        """Find the partition's offsets and put the tail consumer at the end."""
        from confluent_kafka import TopicPartition

        self._windows: OrderedDict[int, dict[int, KafkaRecord]] = OrderedDict()
        self._filled: dict[int, int] = {}  # window -> offsets below this were all fetched
        self._changed: str | None = None
        self._down_since: float | None = None
        self._checked = 0.0
        low, high = watermarks(self.topic, self._reader, [self.partition])[self.partition]
        self.first = low
        self._count = high  # nothing before the end is cached: windows are fetched on demand
        ends = find_ends(self.topic, self._reader, {self.partition: high}, keep=self._keep_tail)
        self._count = max(self._count, ends[self.partition])
        self._tail.assign([TopicPartition(self.topic.topic, self.partition, self._count)])

    # --- the LineIndex interface --------------------------------------------------------------------

    @property
    def count(self) -> int:
        return self._count

    @property
    def scanned(self) -> int:
        return self._count

    def size(self) -> int:
        return self._count

    def unfinished(self) -> int:
        return 0

    def build_in_background(self, hold: bool = False) -> threading.Event:
        """Present for the viewer's start-up code: a Kafka index is ready when constructed (nothing to hold)."""
        done = threading.Event()
        done.set()
        return done

    def go(self) -> None:
        """Present for the viewer's first screen: nothing here waits for it."""

    def read(self, first: int, last: int) -> list[bytes]:
        first, last = max(first, self.first), min(last, self._count)
        if first >= last:
            return []
        found = {record.offset: record.value for record in self.read_records(first, last)}
        return [found.get(offset, b"") for offset in range(first, last)]

    @property
    def source(self) -> tuple[KafkaTopic, int]:
        """What a background pass reads (see source.py): this topic's partition."""
        return self.topic, self.partition

    def read_one(self, offset: int) -> bytes:
        values = self.read(offset, offset + 1)
        return values[0] if values else b""

    def read_records(self, first: int, last: int) -> list[KafkaRecord]:
        """The records at offsets [first, last) that exist, fetching windows not in the cache."""
        first, last = max(first, self.first), min(last, self._count)
        records: list[KafkaRecord] = []
        w = first // self.window
        while w * self.window < last:
            start, stop = max(first, w * self.window), min(last, (w + 1) * self.window)
            window = self._window(w, stop)
            records.extend(window[o] for o in range(start, stop) if o in window)
            w += 1
        return records

    def update(self, budget: int | None = None, wait: float = 0.0) -> int:
        """Take what was produced since the last call; returns how many records were added.

        With `wait`, waits up to that many seconds for the first new record (a follower's wake-up):
        it returns as soon as one arrives, with whatever else is there by then.
        """
        before = self._count
        with self._tail_lock:
            first = self._tail.poll(wait) if wait else None
            messages = ([first] if first is not None else []) + self._tail.consume(budget or 10000, 0)
        for message in messages:
            error = message.error()
            if error is None:
                self._back()
                self._keep_tail(to_record(message))
            elif error.code() == ERR_AUTO_OFFSET_RESET:
                self._changed = "truncated"
            elif error.code() == ERR_PARTITION_EOF:
                self._back()
        self._watch_broker()
        return self._count - before

    def change(self) -> str | None:
        """"truncated" when the records read are gone from the partition; None otherwise."""
        return self._changed

    def reset(self) -> None:
        """Start over on the partition as it is now (after `change` said it was truncated)."""
        with self._read_lock, self._tail_lock, self._lock:
            self._tail.unassign()
            self._open()

    def close(self) -> None:
        for consumer in (self._reader, self._tail):
            try:
                consumer.close()
            except RuntimeError:
                pass

    # --- internals ---------------------------------------------------------------------------------

    def _keep_tail(self, record: KafkaRecord) -> None:
        """Cache a record read at the end and move the end past it."""
        with self._lock:
            w = record.offset // self.window
            window = self._windows.setdefault(w, {})
            window[record.offset] = record
            if self._filled.get(w, w * self.window) >= self._count:  # the window was complete up to here
                self._filled[w] = record.offset + 1
            self._count = max(self._count, record.offset + 1)
            self._trim()

    def _window(self, w: int, needed_to: int) -> dict[int, KafkaRecord]:
        """Window `w` with every offset below `needed_to` fetched (from the cache when it has them)."""
        with self._lock:
            window = self._windows.get(w)
            if window is not None and self._filled.get(w, -1) >= needed_to:
                self._windows.move_to_end(w)
                return window
            start = self._filled.get(w, w * self.window) if window is not None else w * self.window
        fetched, reached = self._fetch(max(start, self.first), min((w + 1) * self.window, self._count))
        with self._lock:
            window = self._windows.setdefault(w, {})
            window.update(fetched)
            self._filled[w] = max(self._filled.get(w, 0), reached)
            self._windows.move_to_end(w)
            self._trim()
            return window

    def _fetch(self, start: int, stop: int) -> tuple[dict[int, KafkaRecord], int]:
        """Records at offsets [start, stop), and the offset below which all were fetched."""
        from confluent_kafka import TopicPartition

        records: dict[int, KafkaRecord] = {}
        if start >= stop:
            return records, stop
        reached = start
        deadline = time.monotonic() + FETCH_SECONDS
        with self._read_lock:
            self._reader.assign([TopicPartition(self.topic.topic, self.partition, start)])
            try:
                while reached < stop and time.monotonic() < deadline:
                    for message in take(self._reader, 0.05):
                        error = message.error()
                        if error is None:
                            if message.offset() < stop:
                                records[message.offset()] = to_record(message)
                            reached = max(reached, message.offset() + 1)
                        elif error.code() in (ERR_PARTITION_EOF, ERR_AUTO_OFFSET_RESET):
                            reached = stop  # nothing more in the range (or the range is gone)
            finally:
                self._reader.unassign()
        if reached < stop:
            self.status = f"Kafka broker {self.topic.settings.bootstrap} did not answer within {FETCH_SECONDS:g} s"
        return records, min(reached, stop)

    def _trim(self) -> None:
        while len(self._windows) > self.cache_windows:
            w, _ = self._windows.popitem(last=False)
            self._filled.pop(w, None)

    def _watch_broker(self) -> None:
        """Notice the broker going away (status says so) and coming back (status cleared, end checked)."""
        trouble = [e for e in self._errors.take() if e.code() in (ERR_TRANSPORT, ERR_ALL_BROKERS_DOWN)]
        now = time.monotonic()
        due = self._down_since is not None and now - self._checked >= RECHECK_SECONDS
        if not trouble and not due:
            return
        self._checked = now
        from confluent_kafka import TopicPartition

        try:
            with self._read_lock:
                self._reader.list_topics(self.topic.topic, timeout=0.25)
                _, high = self._reader.get_watermark_offsets(
                    TopicPartition(self.topic.topic, self.partition), timeout=0.5, cached=False
                )
        except Exception:
            if self._down_since is None:
                self._down_since = now
                reason = describe_error(trouble[-1]) if trouble else "no answer"
                self.status = f"Kafka broker {self.topic.settings.bootstrap} cannot be reached ({reason}); waiting"
            return
        if self._down_since is not None and 0 <= high < self._count:
            self._changed = "truncated"  # back with fewer records than we read: the topic was recreated
        self._back()

    def _back(self) -> None:
        if self._down_since is not None or self.status is not None:
            self._down_since = None
            self.status = None
